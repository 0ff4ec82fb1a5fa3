"""The ``netconf`` source: a remote device polled over NETCONF/SSH with ncclient.

One persistent session per device, opened on the first read and reopened after a failure.
ncclient is blocking, so every operation on the session runs in one dedicated worker thread
(which also serialises them: a NETCONF session answers one RPC at a time anyway).

Failures raise SourceError and the subscriber decides when to read again:

* device unreachable / authentication failure: no new connection is attempted before a
  backoff delay (``backoff_initial`` doubling up to ``backoff_max``) has passed; reads in
  between fail at once with the time of the next attempt;
* session dropped (mid-poll or between polls): the session is discarded and the next read
  reconnects at once;
* slow device: a read that gets no reply within its timeout fails and the session is
  discarded (a late reply would otherwise be confused with the next one's).

Host keys: ``off`` does no check; ``strict`` accepts only keys already in the agent's
known-hosts file (``STATE_DIR/source_known_hosts``) or ``~/.ssh/known_hosts``; ``accept-new``
(default) also accepts a host never seen before and records its key in the agent's file, and
refuses a host whose recorded key changed.  The check runs before authentication, so a
password is never sent to an impostor.

Stock ncclient 0.7.1 queues each RPC for its reader thread, which drains the queue only
between 0.1 s ``select`` ticks, so every RPC would wait up to 100 ms.  The session's ``send``
is replaced (on this session only) by a direct write from the calling thread, and the socket
has TCP_NODELAY, so a read costs what the device takes to answer.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Literal

import paramiko
from lxml import etree
from ncclient import manager as nc_manager
from ncclient import transport as nc_transport
from ncclient.operations.errors import (
    MissingCapabilityError,
    OperationError,
    TimeoutExpiredError,
)
from ncclient.operations.rpc import RPCError
from ncclient.transport import session as nc_session
from ncclient.transport.errors import SessionCloseError, TransportError

from agent.api import NETCONF_BASE_NS
from agent.sources.base import OnChange, ReadRequest, SourceError
from agent.sources.snapshot import new_data, parse_filter_children

log = logging.getLogger(__name__)

HostKeyMode = Literal["accept-new", "strict", "off"]


@dataclass(frozen=True)
class NetconfTarget:
    """Where and how to reach a device (built by ``agent.sources.open_source``)."""

    host: str
    port: int = 830
    username: str = "admin"
    password: str | None = None  # None: key authentication
    key_filename: str | None = None  # None: SSH agent and ~/.ssh keys
    hostkey: str = "accept-new"  # accept-new | strict | off
    known_hosts: Path | None = None  # the agent's own known-hosts file
    read_timeout: float = 30.0  # seconds; a request's own timeout may be shorter
    connect_timeout: float = 10.0
    backoff_initial: float = 1.0  # seconds before the first reconnection attempt
    backoff_max: float = 60.0


def _direct_send(session: Any, message: str) -> None:
    """Frame and write ``message`` at once from the calling thread (see the module docstring).

    Same framing as ncclient's own loop (RFC 6242 chunked after base:1.1, else end-of-message).
    """
    if not session.connected:
        raise TransportError("Not connected to NETCONF server")
    data = message.encode()
    if session._base == nc_session.NetconfBase.BASE_11:
        data = b"\n#%d\n%s%s" % (len(data), data, nc_session.END_DELIM)
    else:
        data += nc_session.MSG_DELIM
    while data:
        sent = session._transport_write(data)
        if sent <= 0:
            raise SessionCloseError(session._buffer.getvalue(), data)
        data = data[sent:]


class _HostKeyPolicy:
    """Decides on a host key ncclient did not find in the loaded known-hosts files."""

    def __init__(self, target: NetconfTarget, session: Any) -> None:
        self.target = target
        self.session = session
        self.rejected: str | None = None

    def names(self) -> list[str]:
        host, port = self.target.host, self.target.port
        return [host] if port == 22 else [f"[{host}]:{port}"]

    def __call__(self, host: str, fingerprint: str) -> bool:
        key = self.session._transport.get_remote_server_key()
        path = self.target.known_hosts
        recorded = paramiko.HostKeys()
        if path is not None and path.exists():
            recorded.load(str(path))
        for name in self.names():
            entry = recorded.lookup(name)
            if entry is not None and len(entry) > 0:
                self.rejected = (
                    f"host key of {name} changed (now {key.get_name()} {fingerprint}); "
                    f"remove its line from {path} if the change is expected"
                )
                return False
        if self.target.hostkey != "accept-new" or path is None:
            self.rejected = f"unknown host key {key.get_name()} {fingerprint} (hostkey=strict)"
            return False
        for name in self.names():
            recorded.add(name, key.get_name(), key)
        path.parent.mkdir(parents=True, exist_ok=True)
        recorded.save(str(path))
        log.info("recorded new host key of %s: %s %s", self.names()[0], key.get_name(), fingerprint)
        return True


class NetconfSource:
    """Native model data read from a device over NETCONF (see the module docstring)."""

    def __init__(self, target: NetconfTarget, *, name: str | None = None) -> None:
        self.target = target
        self.name = name or f"netconf://{target.username}@{target.host}:{target.port}"
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pa-netconf")
        self._manager: Any = None  # ncclient Manager; only touched in the worker thread
        self._lock = threading.Lock()
        self._next_attempt = 0.0  # time.monotonic() before which no connect is tried
        self._backoff = 0.0
        self.connects = 0  # successful connections, for tests and diagnostics
        self.last_error: str | None = None
        self._closed = False

    @property
    def connected(self) -> bool:
        manager = self._manager
        return manager is not None and bool(manager.connected)

    async def read(self, request: ReadRequest) -> etree._Element:
        """``get`` (operational) or ``get-config`` (running) with the request's filter."""
        if self._closed:
            raise SourceError(f"{self.name}: source is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._read_blocking, request)

    def watch(self, request: ReadRequest, callback: OnChange) -> bool:
        """Not offered: the device is polled."""
        return False

    async def close(self) -> None:
        """Close the session politely and stop the worker thread (idempotent)."""
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._disconnect, True)
        self._executor.shutdown(wait=True)

    # -- worker thread -------------------------------------------------------------------

    def _read_blocking(self, request: ReadRequest) -> etree._Element:
        with self._lock:
            manager = self._ensure_connected()
            timeout = min(request.timeout, self.target.read_timeout)
            manager.timeout = timeout
            filter_element = self._build_filter(request)
            try:
                if request.datastore == "running":
                    reply = manager.get_config(source="running", filter=filter_element)
                else:
                    reply = manager.get(filter=filter_element)
            except RPCError as exc:
                # The device answered with rpc-error: the session is fine.
                raise SourceError(f"{self.name}: rpc-error {exc.tag}: {exc.message}") from exc
            except MissingCapabilityError as exc:
                raise SourceError(f"{self.name}: the device lacks {exc}") from exc
            except TimeoutExpiredError as exc:
                self._fail(f"no reply within {timeout:g} s")
                raise SourceError(f"{self.name}: no reply within {timeout:g} s") from exc
            except (TransportError, OperationError, OSError, EOFError) as exc:
                self._fail(f"session lost: {exc!r}")
                raise SourceError(f"{self.name}: session lost: {exc}") from exc
            data: etree._Element | None = reply.data_ele
            if data is None:
                return new_data()
            if etree.QName(data).namespace != NETCONF_BASE_NS:
                raise SourceError(f"{self.name}: reply has no <data> element")
            return data

    @staticmethod
    def _build_filter(request: ReadRequest) -> etree._Element | None:
        if not request.filter.strip():
            return None
        if request.filter_type == "xpath":
            nsmap = {p: u for p, u in request.namespaces.items() if p}
            element = etree.Element(f"{{{NETCONF_BASE_NS}}}filter", nsmap=nsmap)
            element.set("type", "xpath")
            element.set("select", request.filter)
            return element
        element = etree.Element(f"{{{NETCONF_BASE_NS}}}filter")
        element.set("type", "subtree")
        element.extend(parse_filter_children(request.filter))
        return element

    def _ensure_connected(self) -> Any:
        if self._manager is not None and self._manager.connected:
            return self._manager
        self._disconnect(False)
        now = time.monotonic()
        if now < self._next_attempt:
            raise SourceError(
                f"{self.name}: unreachable ({self.last_error}); "
                f"next attempt in {self._next_attempt - now:.1f} s"
            )
        try:
            self._manager = self._connect()
        except SourceError as exc:
            self._backoff = min(
                self.target.backoff_max, max(self.target.backoff_initial, self._backoff * 2)
            )
            self._next_attempt = time.monotonic() + self._backoff
            self.last_error = str(exc)
            raise
        self._backoff = 0.0
        self._next_attempt = 0.0
        self.connects += 1
        return self._manager

    def _connect(self) -> Any:
        target = self.target
        try:
            sock = socket.create_connection(
                (target.host, target.port), timeout=target.connect_timeout
            )
        except OSError as exc:
            raise SourceError(f"{self.name}: cannot connect: {exc}") from exc
        # Without TCP_NODELAY a small request after a window adjust waits for the delayed ACK.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        handler = nc_manager.make_device_handler({"name": "default"}, None)
        session = nc_transport.SSHSession(handler)
        verify = target.hostkey != "off"
        policy = _HostKeyPolicy(target, session)
        if verify and target.known_hosts is not None and target.known_hosts.exists():
            session.load_known_hosts(str(target.known_hosts))
        try:
            session.connect(
                host=target.host,
                port=target.port,
                sock=sock,
                username=target.username,
                password=target.password,
                key_filename=target.key_filename,
                hostkey_verify=verify,
                unknown_host_cb=policy,
                allow_agent=target.password is None,
                look_for_keys=target.password is None and target.key_filename is None,
                timeout=target.connect_timeout,
            )
        except Exception as exc:  # ncclient/paramiko raise many types; all mean "not connected"
            if session.transport:
                session.close()
            sock.close()
            reason = policy.rejected or f"{type(exc).__name__}: {exc}"
            raise SourceError(f"{self.name}: cannot open NETCONF session: {reason}") from exc
        session.send = partial(_direct_send, session)
        manager = nc_manager.Manager(session, handler, timeout=target.read_timeout)
        manager.huge_tree = True
        log.info("connected to %s (session-id %s)", self.name, manager.session_id)
        return manager

    def _fail(self, reason: str) -> None:
        self.last_error = reason
        self._disconnect(False)

    def _disconnect(self, polite: bool) -> None:
        manager, self._manager = self._manager, None
        if manager is None:
            return
        try:
            if polite and manager.connected:
                manager.timeout = min(5.0, self.target.read_timeout)
                manager.close_session()
            else:
                manager._session.close()
        except Exception as exc:  # closing a broken session may fail in many ways
            log.debug("closing %s: %r", self.name, exc)
