"""Fixtures: a real NetconfServer on a free loopback port, and ncclient sessions to it."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from ncclient import manager
from server_helpers import RunningServer


@pytest.fixture
def running(tmp_path: Path) -> Iterator[RunningServer]:
    """A fresh server in an empty state directory, admin password ADMIN_PASSWORD."""
    server = RunningServer(tmp_path / "state")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def connect(running: RunningServer) -> Iterator[Callable[..., manager.Manager]]:
    """Factory of ncclient sessions to ``running``; all are closed at teardown."""
    opened: list[manager.Manager] = []

    def factory(**kwargs: Any) -> manager.Manager:
        m = running.connect(**kwargs)
        opened.append(m)
        return m

    yield factory
    for m in opened:
        if m.connected:
            with contextlib.suppress(Exception):
                m.close_session()
