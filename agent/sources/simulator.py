"""A device simulator: a NETCONF server that serves a snapshot of a device's native models.

It reuses the agent's own server (``agent.server.NetconfServer``): the snapshot's
configuration (``running/``) is preloaded, read-only and without schema, into the running
datastore, so ``get-config`` returns it; the snapshot's operational trees (``operational/``)
are served by one state provider per top-level node, so ``get`` returns config and state.
Operational files are re-read when they change; the configuration is read once at start.

``tools/devsim.py`` is the command line around ``DeviceSimulator``; tests use the class.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from lxml import etree

from agent.api import Registry, StateProvider, StateRequest
from agent.config import ServerConfig
from agent.datatree import merge_into
from agent.server.auth import UserStore
from agent.server.server import NetconfServer
from agent.sources.snapshot import SnapshotSource

# What a simulated device implements of the standard modules: the NETCONF protocol ones.
SIMULATOR_MODULES: Sequence[str] = (
    "ietf-netconf",
    "ietf-netconf-monitoring",
    "ietf-netconf-with-defaults",
    "ietf-yang-library",
    "ietf-datastores",
    "ietf-inet-types",
    "ietf-yang-types",
)


class SnapshotStateProvider:
    """Serves one top-level node of a snapshot's ``operational/`` files."""

    def __init__(self, snapshot: SnapshotSource, tag: str) -> None:
        qname = etree.QName(tag)
        self.namespace = qname.namespace or ""
        self.name = qname.localname
        self._snapshot = snapshot
        self._tag = tag

    def get_state(self, request: StateRequest) -> etree._Element | None:
        merged = etree.Element(self._tag)
        found = False
        for element in self._snapshot.operational_elements():
            if element.tag == self._tag:
                merge_into(merged, element, None)
                found = True
        return merged if found else None


class DeviceSimulator:
    """A NETCONF/SSH server on ``host``:``port`` serving the snapshot in ``snapshot_dir``."""

    def __init__(
        self,
        snapshot_dir: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        username: str = "admin",
        password: str | None = None,
        state_dir: Path | None = None,
        extra_state_providers: Sequence[StateProvider] = (),
    ) -> None:
        """``extra_state_providers`` serve more operational data next to the snapshot's
        (tests use them to make a device slow or drop a session)."""
        self.snapshot = SnapshotSource(snapshot_dir, name="devsim")
        self._extra_providers = list(extra_state_providers)
        self.username = username
        self.password = password or secrets.token_urlsafe(12)
        self._own_state_dir = state_dir is None
        self.state_dir = (
            Path(tempfile.mkdtemp(prefix="devsim-")) if state_dir is None else state_dir
        )
        self.config = ServerConfig(host=host, port=port)
        self._server: NetconfServer | None = None

    @property
    def port(self) -> int:
        """The bound TCP port (after ``start``)."""
        return self._server.port if self._server is not None else 0

    @property
    def server(self) -> NetconfServer:
        """The underlying ``agent.server.NetconfServer`` (after ``start``)."""
        if self._server is None:
            raise RuntimeError("the simulator is not started")
        return self._server

    def state_providers(self) -> list[StateProvider]:
        """One provider per top-level node of the snapshot's operational files."""
        tags = dict.fromkeys(e.tag for e in self.snapshot.operational_elements())
        providers: list[StateProvider] = [SnapshotStateProvider(self.snapshot, t) for t in tags]
        return providers + self._extra_providers

    async def start(self) -> None:
        """Create the user and start serving."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        UserStore(self.state_dir).set_password(self.username, self.password)
        registry = Registry()
        for provider in self.state_providers():
            registry.add_state_provider(provider)
        running = list(self.snapshot.datastore("running"))
        server = NetconfServer(
            self.config,
            self.state_dir,
            registry,
            modules=SIMULATOR_MODULES,
            preload_running=running,
        )
        await server.start()
        self._server = server

    async def close(self) -> None:
        """Stop serving (and remove the state folder if the simulator made it)."""
        server, self._server = self._server, None
        if server is not None:
            await server.close()
        if self._own_state_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)
