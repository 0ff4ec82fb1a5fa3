"""Reports: every detail field, KPIs, channels, events, immutability, persistence, XML."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from kpi_helpers import (
    SEED_PERIOD_END,
    SEED_PERIOD_START,
    SEED_VALUES,
    FakeEngine,
    fill,
    make_engine,
    make_policy,
)
from lxml import etree
from test_kpi import LEAKY_KPIS

from agent.api import PA_NS
from agent.engine.reports import ReportBuilder, engine_version
from agent.engine.stats import Statistics
from agent.engine.store import Store, StoreError

NS = {"pa": PA_NS}
YANG_DIR = Path(__file__).resolve().parents[2] / "yang"


def generate(engine: FakeEngine) -> tuple[ReportBuilder, int]:
    builder = ReportBuilder(engine)
    return builder, builder.generate(SEED_PERIOD_START, SEED_PERIOD_END)


def report_element(builder: ReportBuilder, report_id: int) -> etree._Element:
    reports = builder.reports_xml(None)
    assert reports is not None
    [report] = reports.xpath(f"pa:report[pa:report-id='{report_id}']", namespaces=NS)
    return report


def text(report: etree._Element, path: str) -> str:
    return str(report.xpath(f"string(pa:{path})", namespaces=NS))


def test_report_has_every_detail_field(tmp_path: Path) -> None:
    engine = make_engine(tmp_path)
    engine.transport_mode = "direct"
    fill(engine.store)
    builder, report_id = generate(engine)
    assert report_id == 1747988540
    report = report_element(builder, report_id)
    assert text(report, "report-id") == "1747988540"
    assert text(report, "policy-version") == "17.18.1"
    assert text(report, "engine-version") == engine_version()
    assert text(report, "file-version") == "1"
    assert text(report, "period-start") == "2025-05-20T03:52:05.000Z"
    assert text(report, "period-end") == "2025-05-23T08:22:20.000Z"
    assert text(report, "timezone").lstrip("-").isdigit()
    assert text(report, "software-version") == "17.18.01.0.218947.1743507540..IOSXE"
    assert text(report, "serial-number") == "FOC2320V0J9"
    assert text(report, "product-identifier") == "IE-3200-8P2S"
    assert text(report, "vendor-identifier") == "V02"
    assert text(report, "policy-file-signature") == "c2lnbmF0dXJl"
    assert text(report, "channel/pa:name") == "direct"
    assert text(report, "channel/pa:sent-state") == "not-sent"
    assert text(report, "channel/pa:retry-count") == "0"
    kpis = {
        k.findtext("pa:name", namespaces=NS): k.findtext("pa:value", namespaces=NS)
        for k in report.findall("pa:kpi", NS)
    }
    assert kpis == SEED_VALUES
    assert text(report, "kpi/pa:computed-at") == "2025-05-23T08:22:20.000Z"
    # The report's event history, newest first, like the seed: serviceability last added.
    history = [
        (e.findtext("pa:index", namespaces=NS), e.findtext("pa:event", namespaces=NS))
        for e in report.findall("pa:event", NS)
    ]
    assert history[0] == ("0", "SERVICEABILITY_ADD")
    assert [event for _, event in history].count("KPI_ADD") == 5
    assert text(report, "event[pa:event='KPI_ADD'][last()]/pa:context") == "ospf"


def test_channels_follow_the_transport_mode(tmp_path: Path) -> None:
    engine = make_engine(tmp_path)
    builder, first = generate(engine)  # mode off: no delivery channel
    assert report_element(builder, first).findall("pa:channel", NS) == []
    engine.transport_mode = "offline"
    second = builder.generate(SEED_PERIOD_END, SEED_PERIOD_END + 60)
    assert text(report_element(builder, second), "channel/pa:name") == "offline"


def test_id_collision_takes_the_next_free_second(tmp_path: Path) -> None:
    engine = make_engine(tmp_path)
    builder, first = generate(engine)
    second = builder.generate(SEED_PERIOD_START, SEED_PERIOD_END + 0.4)
    assert second == first + 1
    document = builder.document(second)
    assert document is not None and document["period-end"] == SEED_PERIOD_END + 0.4
    assert sorted(engine.store.reports()) == [first, second]


def test_reports_are_immutable(tmp_path: Path) -> None:
    engine = make_engine(tmp_path)
    fill(engine.store)
    builder, report_id = generate(engine)
    stored = engine.store.reports()[report_id]
    with pytest.raises(StoreError):
        engine.store.put_report(report_id, "{}")
    # What callers get are copies: changing them changes nothing.
    document = builder.document(report_id)
    assert document is not None
    document["kpis"].clear()
    copy = report_element(builder, report_id)
    for kpi in copy.findall("pa:kpi", NS):
        copy.remove(kpi)
    assert len(report_element(builder, report_id).findall("pa:kpi", NS)) == len(SEED_VALUES)
    # New data after generation does not change a generated report.
    engine.store.write_batch("ospf_process", [{"id": 1}])
    builder.generate(SEED_PERIOD_END, SEED_PERIOD_END + 100)
    assert engine.store.reports()[report_id] == stored
    assert json.loads(stored)["kpis"][0] == {
        "name": "ospf",
        "category": "feature",
        "computed-at": SEED_PERIOD_END,
        "value": '[{"enabled":"false"}]',
    }


def test_reports_survive_a_restart_on_disk(tmp_path: Path) -> None:
    engine = make_engine(tmp_path)
    fill(engine.store)
    builder, report_id = generate(engine)
    before = etree.tostring(report_element(builder, report_id))
    engine.store.close()
    engine.store = Store(Statistics(engine.clock), tmp_path, "on-disk")
    restarted = ReportBuilder(engine)
    assert restarted.report_ids() == [report_id]
    assert etree.tostring(report_element(restarted, report_id)) == before


def test_selection_narrows_by_report_id(tmp_path: Path) -> None:
    engine = make_engine(tmp_path)
    builder, first = generate(engine)
    second = builder.generate(SEED_PERIOD_END, SEED_PERIOD_END + 3600)
    selection = etree.fromstring(
        f'<reports xmlns="{PA_NS}"><report><report-id>{second}</report-id></report></reports>'
    )
    narrowed = builder.reports_xml(selection)
    assert narrowed is not None
    assert [r.findtext("pa:report-id", namespaces=NS) for r in narrowed] == [str(second)]
    everything = builder.reports_xml(etree.fromstring(f'<reports xmlns="{PA_NS}"/>'))
    assert everything is not None and len(everything) == 2
    by_any = builder.reports_xml(etree.fromstring(f'<reports xmlns="{PA_NS}"><report/></reports>'))
    assert by_any is not None and len(by_any) == 2
    assert first != second


def test_leaky_policy_never_reaches_the_report(tmp_path: Path) -> None:
    engine = make_engine(tmp_path, make_policy(LEAKY_KPIS))
    fill(engine.store)
    builder, report_id = generate(engine)
    stored = engine.store.reports()[report_id]
    xml = etree.tostring(report_element(builder, report_id)).decode()
    for secret in ("line7-sw-east", "10.20.30.40", "plant-floor-uplink", "hall 3"):
        assert secret not in stored and secret not in xml
    document = json.loads(stored)
    assert [k["name"] for k in document["kpis"]] == ["interface_count"]
    drops = {e["context"] for e in document["events"] if e["event"] == "PRIVACY_DROP"}
    assert drops == {k["name"] for k in LEAKY_KPIS} - {"interface_count"}
    assert all(e["rc"] == 1 for e in document["events"] if e["event"] == "PRIVACY_DROP")


def test_failed_kpi_and_identity_query_are_recorded(tmp_path: Path) -> None:
    engine = make_engine(
        tmp_path, make_policy([{"name": "broken", "kind": "sql", "query": "SELECT nope"}])
    )
    builder, report_id = generate(engine)  # empty store: identity fields are empty
    document = builder.document(report_id)
    assert document is not None
    assert document["kpis"] == []
    assert document["serial-number"] == ""
    assert document["events"] == [
        {
            "timestamp": SEED_PERIOD_END,
            "count": 1,
            "event": "KPI_ERROR",
            "rc": 1,
            "context": "broken",
        }
    ]
    assert any(e.event == "KPI_ERROR" for e in engine.events.entries())


@pytest.mark.skipif(shutil.which("yanglint") is None, reason="yanglint is not installed")
def test_report_xml_validates_against_the_yang_module(tmp_path: Path) -> None:
    engine = make_engine(tmp_path)
    engine.transport_mode = "direct"
    fill(engine.store)
    builder, _ = generate(engine)
    root = etree.Element(f"{{{PA_NS}}}product-analytics", nsmap={None: PA_NS})  # type: ignore[dict-item]
    reports = builder.reports_xml(None)
    assert reports is not None
    root.append(reports)
    data = tmp_path / "report.xml"
    data.write_bytes(etree.tostring(root))
    result = subprocess.run(
        [
            "yanglint",
            "-p",
            str(YANG_DIR),
            "-f",
            "xml",
            "-t",
            "data",
            str(YANG_DIR / "product-analytics.yang"),
            str(data),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_no_reports_to_show_is_none(tmp_path: Path) -> None:
    engine = make_engine(tmp_path)
    builder = ReportBuilder(engine)
    assert builder.reports_xml(None) is None
    builder.generate(SEED_PERIOD_START, SEED_PERIOD_END)
    unknown = etree.fromstring(
        f'<reports xmlns="{PA_NS}"><report><report-id>7</report-id></report></reports>'
    )
    assert builder.reports_xml(unknown) is None


class _Writer:
    """A ConfigWriter stand-in holding a running configuration."""

    def __init__(self, running: str | None) -> None:
        self.running = None if running is None else etree.fromstring(running)

    def get_running(self, namespace: str, name: str) -> etree._Element | None:
        assert (namespace, name) == (PA_NS, "product-analytics")
        return self.running


@pytest.mark.parametrize(
    ("running", "channels"),
    [
        (None, []),
        (f'<product-analytics xmlns="{PA_NS}"/>', []),
        (
            f'<product-analytics xmlns="{PA_NS}"><transport><mode>off</mode></transport>'
            "</product-analytics>",
            [],
        ),
        (
            f'<product-analytics xmlns="{PA_NS}"><transport><mode>on-prem</mode></transport>'
            "</product-analytics>",
            ["on-prem"],
        ),
    ],
)
def test_channel_comes_from_running_when_the_engine_has_no_mode(
    tmp_path: Path, running: str | None, channels: list[str]
) -> None:
    class Engine:
        def __init__(self, base: FakeEngine) -> None:
            self.store, self.stats, self.events = base.store, base.stats, base.events
            self.clock, self.policy_info = base.clock, base.policy_info
            self._writer = _Writer(running)

    builder = ReportBuilder(Engine(make_engine(tmp_path)))  # type: ignore[arg-type]
    document = builder.document(builder.generate(SEED_PERIOD_START, SEED_PERIOD_END))
    assert document is not None
    assert [c["name"] for c in document["channels"]] == channels
