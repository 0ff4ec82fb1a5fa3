"""RFC 6022 ietf-netconf-monitoring: ``/netconf-state`` as a state provider.

capabilities, datastores (with their global locks), schemas (entries built by
``agent.server.schemas``), sessions and statistics come straight from the server's live
objects at each ``get``.
"""

from __future__ import annotations

import time
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from lxml import etree

from agent.api import StateRequest

if TYPE_CHECKING:
    from agent.server.server import NetconfServer

NCM_NS = "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"
_M = f"{{{NCM_NS}}}"
_STATIC_CHILDREN = frozenset({"capabilities", "schemas"})


def yang_time(seconds: float) -> str:
    """A yang:date-and-time in UTC, e.g. ``2026-12-03T18:00:00Z``."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Statistics:
    """Server-wide counters of /netconf-state/statistics."""

    start_time: float = field(default_factory=time.time)
    in_bad_hellos: int = 0
    in_sessions: int = 0
    dropped_sessions: int = 0
    in_rpcs: int = 0
    in_bad_rpcs: int = 0
    out_rpc_errors: int = 0
    out_notifications: int = 0


class MonitoringProvider:
    """StateProvider of ``/ncm:netconf-state``."""

    namespace = NCM_NS
    name = "netconf-state"

    def __init__(self, server: NetconfServer) -> None:
        self._server = server
        self._schemas_element: etree._Element | None = None

    def _schemas(self) -> etree._Element | None:
        """The ``<schemas>`` element, built once (the module set never changes)."""
        if self._schemas_element is None:
            from agent.server.schemas import schema_entries

            entries = schema_entries(self._server.schema)
            if not entries:
                return None
            element = etree.Element(_M + "schemas", nsmap={None: NCM_NS})  # type: ignore[dict-item]
            element.extend(entries)
            self._schemas_element = element
        return self._schemas_element

    def state_token(self, request: StateRequest) -> Hashable | None:
        """Equal for equal state (see agent.server.readcache): the capabilities and the
        schemas never change while the server runs; datastores (locks), sessions and
        statistics change all the time and are not vouched for."""
        wanted = _wanted_children(request.selection)
        if wanted is not None and wanted <= _STATIC_CHILDREN:
            return ("netconf-state", frozenset(wanted))
        return None

    def get_state(self, request: StateRequest) -> etree._Element | None:
        """The whole /netconf-state (the server filters it; it is small)."""
        wanted = _wanted_children(request.selection)
        server = self._server
        root = etree.Element(_M + "netconf-state", nsmap={None: NCM_NS})  # type: ignore[dict-item]
        if wanted is None or "capabilities" in wanted:
            caps = etree.SubElement(root, _M + "capabilities")
            for uri in server.capabilities:
                etree.SubElement(caps, _M + "capability").text = uri
        if wanted is None or "datastores" in wanted:
            datastores = etree.SubElement(root, _M + "datastores")
            for store in server.datastores.all():
                entry = etree.SubElement(datastores, _M + "datastore")
                etree.SubElement(entry, _M + "name").text = store.name
                if store.lock is not None:
                    locks = etree.SubElement(entry, _M + "locks")
                    global_lock = etree.SubElement(locks, _M + "global-lock")
                    etree.SubElement(global_lock, _M + "locked-by-session").text = str(
                        store.lock.session_id
                    )
                    etree.SubElement(global_lock, _M + "locked-time").text = yang_time(
                        store.lock.locked_at
                    )
        if wanted is None or "schemas" in wanted:
            schemas = self._schemas()
            if schemas is not None:
                # the cached element itself moves into this answer: the server copies what
                # a provider returns before the reply touches it, so it is never changed
                root.append(schemas)
        if wanted is None or "sessions" in wanted:
            live = [s for s in server.sessions.values() if s.established]
            if live:
                sessions = etree.SubElement(root, _M + "sessions")
                for session in live:
                    entry = etree.SubElement(sessions, _M + "session")
                    etree.SubElement(entry, _M + "session-id").text = str(session.session_id)
                    transport = etree.SubElement(entry, _M + "transport", nsmap={"ncm": NCM_NS})
                    transport.text = "ncm:netconf-ssh"
                    etree.SubElement(entry, _M + "username").text = session.username
                    if session.source_host:
                        etree.SubElement(entry, _M + "source-host").text = session.source_host
                    etree.SubElement(entry, _M + "login-time").text = yang_time(session.login_time)
                    for name, value in (
                        ("in-rpcs", session.in_rpcs),
                        ("in-bad-rpcs", session.in_bad_rpcs),
                        ("out-rpc-errors", session.out_rpc_errors),
                        ("out-notifications", session.out_notifications),
                    ):
                        etree.SubElement(entry, _M + name).text = str(value)
        if wanted is None or "statistics" in wanted:
            stats = server.stats
            element = etree.SubElement(root, _M + "statistics")
            etree.SubElement(element, _M + "netconf-start-time").text = yang_time(stats.start_time)
            for name, value in (
                ("in-bad-hellos", stats.in_bad_hellos),
                ("in-sessions", stats.in_sessions),
                ("dropped-sessions", stats.dropped_sessions),
                ("in-rpcs", stats.in_rpcs),
                ("in-bad-rpcs", stats.in_bad_rpcs),
                ("out-rpc-errors", stats.out_rpc_errors),
                ("out-notifications", stats.out_notifications),
            ):
                etree.SubElement(element, _M + name).text = str(value)
        return root


def _wanted_children(selection: etree._Element | None) -> set[str] | None:
    """Localnames of the /netconf-state children a subtree filter asks for (None: all)."""
    if selection is None:
        return None
    names = {
        etree.QName(child).localname
        for child in selection
        if isinstance(child.tag, str) and etree.QName(child).namespace in (NCM_NS, None)
    }
    return names or None
