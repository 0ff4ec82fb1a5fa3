"""Startup at boot: a startup.xml that would not pass an edit of running (schema, pyangbind,
unknown nodes, a config listener's veto) is moved aside and the server boots empty."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from lxml import etree
from server_helpers import NC, PA, RunningServer, data_of

from agent.api import Registry, RpcError

IF = "urn:ietf:params:xml:ns:yang:ietf-interfaces"


def write_startup(state_dir: Path, body: str) -> Path:
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / "startup.xml"
    path.write_text(f'<?xml version="1.0" encoding="UTF-8"?>\n<data xmlns="{NC}">{body}</data>\n')
    return path


def boot_and_read(state_dir: Path, registry: Registry | None = None) -> tuple[int, int]:
    """Start a server, return the number of top-level nodes of running and startup."""
    server = RunningServer(state_dir, registry=registry)
    try:
        m = server.connect()
        running = len(data_of(m.get_config(source="running")))
        startup = len(data_of(m.get_config(source="startup")))
        m.close_session()
        return running, startup
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        # an enum value the module does not define
        (f'<product-analytics xmlns="{PA}"><storage>cloud</storage></product-analytics>', "cloud"),
        # an element the module does not define
        (
            f'<product-analytics xmlns="{PA}"><enabled>true</enabled><colour>red</colour>'
            "</product-analytics>",
            "colour",
        ),
        # out of range 1..100
        (
            f'<product-analytics xmlns="{PA}"><transport><retry><max-attempts>500'
            "</max-attempts></retry></transport></product-analytics>",
            "max-attempts",
        ),
        # configuration of a module the agent serves read-only
        (
            f'<interfaces xmlns="{IF}"><interface><name>eth0</name></interface></interfaces>',
            "read-only",
        ),
    ],
)
def test_invalid_startup_is_moved_aside_and_running_is_empty(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, body: str, problem: str
) -> None:
    state = tmp_path / "state"
    path = write_startup(state, body)
    original = path.read_bytes()
    with caplog.at_level(logging.ERROR, logger="agent.server.datastores"):
        running, startup = boot_and_read(state)
    assert (running, startup) == (0, 0)
    kept = list(state.glob("startup.xml.invalid-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == original
    assert not path.exists()
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "not valid" in messages and problem in messages, messages


def test_valid_startup_is_served_as_running(tmp_path: Path) -> None:
    state = tmp_path / "state"
    write_startup(
        state,
        f'<product-analytics xmlns="{PA}"><storage>in-memory</storage>'
        "<transport><retry><max-attempts>7</max-attempts></retry></transport>"
        "</product-analytics>",
    )
    assert boot_and_read(state) == (1, 1)
    assert list(state.glob("startup.xml.*")) == []


def test_startup_refused_by_a_config_listener(tmp_path: Path) -> None:
    class Listener:
        namespace = PA

        def validate(self, old: etree._Element | None, new: etree._Element | None) -> None:
            if new is not None and new.findtext(f"{{{PA}}}storage") == "in-memory":
                raise RpcError("invalid-value", "in-memory storage is refused by the engine")

        def apply(self, old: etree._Element | None, new: etree._Element | None) -> None:
            pass

    registry = Registry()
    registry.add_config_listener(Listener())
    state = tmp_path / "state"
    write_startup(
        state, f'<product-analytics xmlns="{PA}"><storage>in-memory</storage></product-analytics>'
    )
    assert boot_and_read(state, registry) == (0, 0)
    assert len(list(state.glob("startup.xml.invalid-*"))) == 1
