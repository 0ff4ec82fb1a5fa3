"""Reports: built at the end of a reporting period, immutable, persisted, audited over NETCONF.

``ReportBuilder.generate(period_start, period_end)`` computes every KPI of the policy
(``agent.engine.kpi``, with the privacy guard of ``agent.engine.privacy`` over the operator
text in the store), reads the device identity the policy's ``device`` section says, and
stores the report as one JSON document with ``Store.put_report`` (``on-disk`` storage keeps
it across a restart).  The document holds every field of the seed's ``show product-analytics
report detail``; see :func:`ReportBuilder.generate` for the id rule.

Each report's ``<report>`` XML element is built once, through the pyangbind binding of the
YANG list entry (``bindings/product_analytics.py``; about 100 ms for 28 KPIs, so never per
``get``), and cached; ``reports_xml`` hands out copies of the cached elements.

Channels: a report gets one channel, named after the transport mode configured when it is
generated (``direct``, ``cslu``, ``on-prem``, ``offline``), in state ``not-sent`` with no
retries; with mode ``off`` (the default) it has none.  Delivery (a later issue) changes only
that state.  A KPI that failed or whose value was dropped for privacy is not in the report's
KPI list; its ``KPI_ERROR`` / ``PRIVACY_DROP`` entry in the report's event history says why.
The identity fields (software version, serial number, PID, VID) identify the product, as the
seed's reports do; they come from the policy's ``device`` queries and are not KPI values.
"""

from __future__ import annotations

import copy
import importlib
import importlib.metadata
import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from lxml import etree
from pyangbind.lib.serialise import pybindIETFXMLEncoder

from agent.api import PA_NS
from agent.engine.clock import Clock, date_and_time
from agent.engine.kpi import PRIVACY_DROP, KpiResult, compute_all
from agent.engine.policy import DEVICE_FIELDS, PolicyInfo
from agent.engine.privacy import PrivacyGuard
from agent.engine.stats import Event, EventHistory, Statistics
from agent.engine.store import Store, StoreError

log = logging.getLogger("agent.engine.reports")

NS = f"{{{PA_NS}}}"
DELIVERY_CHANNELS = ("direct", "cslu", "on-prem", "offline")
# Report ids are seconds; two reports ending in the same second take the next free ones.
MAX_ID_PROBE = 3600


def engine_version() -> str:
    """The agent's own version (``Engine Version``)."""
    try:
        return importlib.metadata.version("product-analytics-agent")
    except importlib.metadata.PackageNotFoundError:
        return "0.0.0"


def timezone_minutes(timestamp: float) -> int:
    """Offset of the host's local time from UTC at ``timestamp``, in minutes."""
    return int(time.localtime(timestamp).tm_gmtoff // 60)


class ReportEngine(Protocol):
    """What the builder needs from the engine (``agent.engine.engine.Engine`` has it)."""

    store: Store | None
    stats: Statistics
    events: EventHistory
    clock: Clock
    policy_info: PolicyInfo


@dataclass
class _Cached:
    document: dict[str, Any]
    element: etree._Element | None = None


class ReportBuilder:
    """Generates reports and serves their cached XML."""

    def __init__(
        self,
        engine: ReportEngine,
        *,
        transport_mode: Callable[[], str] | None = None,
    ) -> None:
        self._engine = engine
        self._transport_mode = transport_mode or (lambda: _running_transport_mode(engine))
        self._cache: dict[int, _Cached] = {}
        self.last_build_us = 0  # binding + XML time of the last report built
        store = engine.store
        if store is not None:
            for report_id, text in store.reports().items():
                try:
                    self._cache[report_id] = _Cached(json.loads(text))
                except json.JSONDecodeError as exc:
                    log.error("%%PA-3-REPORT_CORRUPT: report %d unreadable: %s", report_id, exc)

    # --- generation -----------------------------------------------------------------------

    def generate(self, period_start: float, period_end: float) -> int:
        """Build, store and cache the report of one period; return its id.

        The id is ``period_end`` in whole Unix seconds.  If a report with that id exists
        (two reports generated within one second), the next free second is used; the
        report's ``period-end`` still says when the period really ended.
        """
        engine = self._engine
        store = engine.store
        if store is None:
            raise StoreError("the data store is not open")
        info = engine.policy_info
        policy = info.policy
        now = engine.clock.time()
        try:
            guard = PrivacyGuard.from_store(policy, store)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read operator text for the privacy check: {exc}") from exc
        results = compute_all(policy.kpis, store, engine.stats, engine.events, now, guard=guard)
        report_id = self._free_id(int(period_end))
        document: dict[str, Any] = {
            "report-id": report_id,
            "policy-version": policy.policy_version,
            "engine-version": engine_version(),
            "file-version": policy.file_version,
            "period-start": period_start,
            "period-end": period_end,
            "timezone": timezone_minutes(period_end),
            **self._identity(store),
            "policy-file-signature": info.signature or "",
            "channels": [
                {"name": name, "sent-state": "not-sent", "retry-count": 0}
                for name in self._channels()
            ],
            "kpis": [
                {
                    "name": r.name,
                    "category": r.category,
                    "computed-at": r.computed_at,
                    "value": r.value,
                }
                for r in results
                if r.value is not None
            ],
            "events": _report_events(results),
        }
        store.put_report(report_id, json.dumps(document, separators=(",", ":")))
        cached = _Cached(document)
        self._build(cached)
        self._cache[report_id] = cached
        return report_id

    def _free_id(self, wanted: int) -> int:
        for report_id in range(wanted, wanted + MAX_ID_PROBE):
            if report_id not in self._cache:
                return report_id
        raise StoreError(f"no free report id within {MAX_ID_PROBE} s of {wanted}")

    def _identity(self, store: Store) -> dict[str, str]:
        """Software version, serial number, PID and VID as the policy's queries read them."""
        device = self._engine.policy_info.policy.device
        identity: dict[str, str] = {}
        for name in DEVICE_FIELDS:
            query = device.get(name)
            value = ""
            if query:
                try:
                    rows = store.query(query)
                except sqlite3.Error as exc:
                    self._engine.events.add("DEVICE_ID_ERROR", 1, f"{name}: {exc}")
                    rows = []
                if rows and rows[0] and rows[0][0] is not None:
                    value = str(rows[0][0])
            identity[name] = value
        return identity

    def _channels(self) -> list[str]:
        mode = self._transport_mode()
        return [mode] if mode in DELIVERY_CHANNELS else []

    # --- XML --------------------------------------------------------------------------------

    def _build(self, cached: _Cached) -> etree._Element:
        """The report's ``<report>`` element, built through its pyangbind binding once."""
        if cached.element is None:
            start = time.perf_counter_ns()
            binding = report_binding(cached.document)
            text = pybindIETFXMLEncoder.serialise(binding, pretty_print=False)
            cached.element = etree.fromstring(text.encode())
            self.last_build_us = (time.perf_counter_ns() - start) // 1000
        return cached.element

    def report_ids(self) -> list[int]:
        return sorted(self._cache)

    def document(self, report_id: int) -> dict[str, Any] | None:
        """The stored document of a report (a copy), or None."""
        cached = self._cache.get(report_id)
        return copy.deepcopy(cached.document) if cached is not None else None

    def reports_xml(self, selection: etree._Element | None) -> etree._Element | None:
        """``<reports>`` with copies of the cached ``<report>`` elements the selection wants
        (None when there is none to show).

        ``selection`` is the filter's ``<reports>`` node (or None for everything); report-id
        content matches in it narrow the copy, the server applies the rest of the filter.
        """
        wanted = _selected_ids(selection)
        root = etree.Element(NS + "reports", nsmap={None: PA_NS})  # type: ignore[dict-item]
        for report_id in sorted(self._cache):
            if wanted is None or report_id in wanted:
                root.append(copy.deepcopy(self._build(self._cache[report_id])))
        return root if len(root) else None

    def forget(self, report_id: int) -> None:
        """Drop a report from the cache (after the store deleted it)."""
        self._cache.pop(report_id, None)


def _running_transport_mode(engine: object) -> str:
    """The engine's transport mode, else the one in running (``off`` when unset)."""
    mode = getattr(engine, "transport_mode", None)
    if isinstance(mode, str):
        return mode
    writer = getattr(engine, "_writer", None)
    if writer is None:
        return "off"
    config = writer.get_running(PA_NS, "product-analytics")
    if config is None:
        return "off"
    mode = config.findtext(f"{NS}transport/{NS}mode")
    return (mode or "off").strip()


def _selected_ids(selection: etree._Element | None) -> set[int] | None:
    if selection is None:
        return None
    ids: set[int] = set()
    # A subtree filter node without a namespace (xmlns="") matches in every namespace.
    for report in _children(selection, "report"):
        key = next(iter(_children(report, "report-id")), None)
        if key is None or not (key.text or "").strip():
            return None  # no content match on the key: every report is selected
        try:
            ids.add(int((key.text or "").strip()))
        except ValueError:
            continue  # a value no report id can have matches nothing
    return ids if len(selection) else None


def _children(element: etree._Element, name: str) -> list[etree._Element]:
    """Children named ``name`` in our namespace or in none (RFC 6241 §6.2.1)."""
    return [*element.iterchildren(NS + name), *element.iterchildren(name)]


def _report_events(results: Iterable[KpiResult]) -> list[dict[str, Any]]:
    """The report's own event history, newest first: one entry per KPI, like the seed.

    It is sent with the report, so a failure is named by the KPI only; the message (which
    may quote collected data) stays in the engine's local event history.
    """
    entries: list[dict[str, Any]] = []
    for result in results:
        if result.value is not None:
            event = "SERVICEABILITY_ADD" if result.category == "serviceability" else "KPI_ADD"
            entries.append(_entry(result, event, 0, result.name))
        elif result.privacy_dropped:
            entries.append(_entry(result, PRIVACY_DROP, 1, result.name))
        else:
            entries.append(_entry(result, Event.KPI_ERROR, 1, result.name))
    entries.reverse()
    return entries


def _entry(result: KpiResult, event: str, rc: int, context: str) -> dict[str, Any]:
    return {
        "timestamp": result.computed_at,
        "count": 1,
        "event": str(event),
        "rc": rc,
        "context": context,
    }


def report_binding(document: dict[str, Any]) -> Any:
    """The pyangbind object of one ``/product-analytics/reports/report`` entry.

    The leaves are config false, so they are set with the bindings' ``_set_<leaf>``
    methods, which check each value against its YANG type.
    """
    # Imported by name: the generated module is untyped, so it is used as ``Any``.
    yang: Any = importlib.import_module("bindings.product_analytics")
    report = yang.yc_report_product_analytics__product_analytics_reports_report()
    report._set_report_id(document["report-id"])
    report._set_policy_version(document["policy-version"])
    report._set_engine_version(document["engine-version"])
    report._set_file_version(document["file-version"])
    report._set_period_start(date_and_time(document["period-start"]))
    report._set_period_end(date_and_time(document["period-end"]))
    report._set_timezone(document["timezone"])
    report._set_software_version(document["software-version"])
    report._set_serial_number(document["serial-number"])
    report._set_product_identifier(document["product-identifier"])
    report._set_vendor_identifier(document["vendor-identifier"])
    report._set_policy_file_signature(document["policy-file-signature"])
    for channel in document["channels"]:
        entry = report.channel.add(channel["name"])
        entry._set_sent_state(channel["sent-state"])
        entry._set_retry_count(channel["retry-count"])
    for index, event in enumerate(document["events"]):
        entry = report.event.add(index)
        entry._set_timestamp(date_and_time(event["timestamp"]))
        entry._set_count(event["count"])
        entry._set_event(event["event"])
        entry._set_rc(event["rc"])
        entry._set_context(event["context"])
    for kpi in document["kpis"]:
        entry = report.kpi.add(kpi["name"])
        # reports stored before the category existed are all feature KPIs
        entry._set_category(kpi.get("category", "feature"))
        entry._set_computed_at(date_and_time(kpi["computed-at"]))
        entry._set_value(kpi["value"])
    return report
