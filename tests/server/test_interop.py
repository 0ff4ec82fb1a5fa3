"""Real clients: netconf-console2 as a subprocess, and many concurrent ncclient sessions."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from server_helpers import NC, PA, RunningServer, data_of

Connect = Callable[..., Any]


def console(running: RunningServer, *args: str, ok: bool = True) -> str:
    """Run netconf-console2 against the server; its stdout.  The exit status must be 0
    (``ok``) or not 0 (an rpc-error was reported)."""
    executable = shutil.which("netconf-console2") or str(
        Path(sys.executable).parent / "netconf-console2"
    )
    command = [
        executable,
        "--host",
        "127.0.0.1",
        "--port",
        str(running.port),
        "-u",
        "admin",
        "-p",
        running.password,
        *args,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert (result.returncode == 0) == ok, result.stdout + result.stderr
    return result.stdout


def test_console_hello(running: RunningServer) -> None:
    out = console(running, "--hello")
    assert "urn:ietf:params:netconf:base:1.1" in out
    assert "urn:ietf:params:netconf:capability:candidate:1.0" in out


def test_console_edit_get_config_get_lock(running: RunningServer, tmp_path: Path) -> None:
    edit = tmp_path / "edit.xml"
    edit.write_text(
        f'<product-analytics xmlns="{PA}"><enabled>true</enabled>'
        "<transport><mode>offline</mode></transport></product-analytics>"
    )
    console(running, "--lock", "--edit-config", str(edit), "--unlock")
    out = console(running, "--get-config")
    data = etree.fromstring(out.encode())
    assert data.findtext(f".//{{{PA}}}mode") == "offline"
    out = console(running, "--get", "-x", "/pa:product-analytics/pa:enabled", "--ns", f"pa={PA}")
    assert "<enabled>true</enabled>" in out
    assert "transport" not in out
    # --filter builds a subtree filter from a simple path
    out = console(running, "--get-config", "--filter", "/pa:product-analytics", "--ns", f"pa={PA}")
    assert "offline" in out


def test_console_get_schema_and_monitoring(running: RunningServer) -> None:
    out = console(running, "--get-schema", "product-analytics")
    assert "module product-analytics" in out
    out = console(
        running,
        "--get",
        "-x",
        "/ncm:netconf-state/ncm:sessions",
        "--ns",
        "ncm=urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring",
    )
    assert "<username>admin</username>" in out


def test_console_with_defaults(running: RunningServer) -> None:
    out = console(
        running,
        "--get-config",
        "--with-defaults",
        "report-all",
        "-x",
        "/pa:product-analytics",
        "--ns",
        f"pa={PA}",
    )
    assert "<storage>on-disk</storage>" in out


def test_console_errors_are_reported(running: RunningServer, tmp_path: Path) -> None:
    edit = tmp_path / "bad.xml"
    edit.write_text(
        f'<product-analytics xmlns="{PA}"><storage>floppy</storage></product-analytics>'
    )
    out = console(running, "--edit-config", str(edit), ok=False)
    assert "<error-tag>invalid-value</error-tag>" in out
    assert "/pa:product-analytics/pa:storage" in out


@pytest.mark.parametrize("sessions", [20])
def test_concurrent_sessions_get_and_edit(running: RunningServer, sessions: int) -> None:
    """20 sessions at once: each edits its own leaf value and reads; no errors."""
    failures: list[BaseException] = []
    start = threading.Barrier(sessions)
    final_attempts: dict[int, str] = {}

    def worker(index: int) -> None:
        try:
            m = running.connect()
            start.wait(timeout=30)
            for round_ in range(5):
                attempts = str(1 + (index * 5 + round_) % 100)
                m.edit_config(
                    target="running",
                    config=f'<config xmlns="{NC}"><product-analytics xmlns="{PA}"><transport>'
                    f"<retry><max-attempts>{attempts}</max-attempts></retry></transport>"
                    "</product-analytics></config>",
                )
                data = data_of(m.get(filter=("subtree", f'<product-analytics xmlns="{PA}"/>')))
                assert data.find(f".//{{{PA}}}max-attempts") is not None
            final_attempts[index] = attempts
            m.edit_config(
                target="running",
                config=f'<config xmlns="{NC}"><product-analytics xmlns="{PA}">'
                "<enabled>true</enabled></product-analytics></config>",
            )
            m.close_session()
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(sessions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures
    m = running.connect()
    data = data_of(m.get_config(source="running"))
    assert data.findtext(f".//{{{PA}}}enabled") == "true"
    # the last edit of max-attempts was one of the workers' final values
    assert data.findtext(f".//{{{PA}}}max-attempts") in set(final_attempts.values())
    assert len(final_attempts) == sessions
    m.close_session()


def test_slow_client_does_not_delay_others(running: RunningServer, connect: Connect) -> None:
    """A client that never reads its replies must not block other sessions."""
    import asyncio

    from server_helpers import RawSession

    async def stuck() -> RawSession:
        raw = await RawSession.open(running.port)
        await raw.hello()
        # ask for a large reply many times and never read it
        for i in range(300):
            raw.send(f'<rpc xmlns="{NC}" message-id="{i}"><get/></rpc>'.encode())
        return raw

    loop = asyncio.new_event_loop()
    try:
        raw = loop.run_until_complete(stuck())
        m = connect()
        for _ in range(5):
            assert m.get_config(source="running").ok
        raw.close()
        loop.run_until_complete(raw.conn.wait_closed())
    finally:
        loop.close()


def test_console_candidate_commit_copy_validate_kill(
    running: RunningServer, tmp_path: Path, connect: Connect
) -> None:
    edit = tmp_path / "edit.xml"
    edit.write_text(
        f'<product-analytics xmlns="{PA}"><storage>in-memory</storage></product-analytics>'
    )
    console(
        running,
        "--db",
        "candidate",
        "--lock",
        "--edit-config",
        str(edit),
        "--validate",
        "candidate",
        "--commit",
        "--unlock",
        "--copy-running-to-startup",
    )
    m = connect()
    for source in ("running", "startup"):
        data = data_of(m.get_config(source=source))
        assert data.findtext(f".//{{{PA}}}storage") == "in-memory", source
    out = console(running, "--db", "candidate", "--edit-config", str(edit), "--discard-changes")
    assert "error" not in out
    out = console(running, "--kill-session", m.session_id)
    assert "<ok " in out
    assert running.run(lambda: int(m.session_id) not in running.server.sessions)
