"""Helpers of the server tests: a real NetconfServer on a loopback port, ncclient sessions.

The server runs on its own asyncio loop in a background thread, because ncclient is a
blocking client; tests talk to it only over SSH, or through ``RunningServer.call`` for the
few checks that look inside (config-change events).
"""

from __future__ import annotations

import asyncio
import threading
import types
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

import asyncssh
from lxml import etree
from ncclient import manager
from ncclient.transport import session as nc_session
from ncclient.transport.errors import SessionCloseError, TransportError

from agent.api import Registry
from agent.config import ServerConfig
from agent.server import ConfigChange, NetconfServer
from agent.server.auth import UserStore
from agent.server.framing import FrameDecoder, encode_chunked

ADMIN_PASSWORD = "admin-test-password"
NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
PA = "urn:product-analytics:yang:product-analytics"

T = TypeVar("T")


def _direct_send(self: Any, message: str) -> None:
    """ncclient's Session.send without its 0.1 s polling delay (see nc_bench.py)."""
    if not self.connected:
        raise TransportError("Not connected to NETCONF server")
    data = message.encode()
    if self._base == nc_session.NetconfBase.BASE_11:
        data = b"\n#%d\n%s%s" % (len(data), data, nc_session.END_DELIM)
    else:
        data += nc_session.MSG_DELIM
    lock = self.__dict__.setdefault("_test_send_lock", threading.Lock())
    with lock:
        while data:
            n = self._transport_write(data)
            if n <= 0:
                raise SessionCloseError(self._buffer.getvalue(), data)
            data = data[n:]


class RunningServer:
    """A NetconfServer running on a loop in a background thread."""

    def __init__(
        self,
        state_dir: Path,
        *,
        config: ServerConfig | None = None,
        registry: Registry | None = None,
        preload_running: Sequence[etree._Element] = (),
        password: str | None = ADMIN_PASSWORD,
    ) -> None:
        self.state_dir = state_dir
        state_dir.mkdir(parents=True, exist_ok=True)
        if password is not None and not UserStore(state_dir).users():
            UserStore(state_dir).set_password("admin", password)
        self.password = password or ""
        self.config = config or ServerConfig(host="127.0.0.1", port=0)
        self.registry = registry or Registry()
        self.changes: list[ConfigChange] = []
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.server: NetconfServer = self.call(self._start(preload_running))
        self.port = self.server.port

    async def _start(self, preload_running: Sequence[etree._Element]) -> NetconfServer:
        server = NetconfServer(
            self.config, self.state_dir, self.registry, preload_running=preload_running
        )
        server.subscribe(self.changes.append)
        await server.start()
        return server

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the server's loop and wait for its result."""
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout=30)

    def run(self, fn: Callable[[], T]) -> T:
        """Run a plain function on the server's loop (to touch server state safely)."""

        async def wrapper() -> T:
            return fn()

        return self.call(wrapper())

    def connect(self, **kwargs: Any) -> manager.Manager:
        """An ncclient session to this server (admin, huge_tree, no polling delay)."""
        params: dict[str, Any] = dict(
            host="127.0.0.1",
            port=self.port,
            username="admin",
            password=self.password,
            hostkey_verify=False,
            look_for_keys=False,
            allow_agent=False,
            timeout=30,
        )
        params.update(kwargs)
        m = manager.connect(**params)
        m.huge_tree = True
        m._session.send = types.MethodType(_direct_send, m._session)
        return m

    def stop(self) -> None:
        try:
            self.call(self.server.close())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)
            self.loop.close()


def xml(text: str) -> etree._Element:
    """Parse test XML."""
    return etree.fromstring(text.encode())


def data_of(reply: Any) -> etree._Element:
    """The <data> element of an ncclient get/get-config (or dispatch) reply."""
    if hasattr(reply, "data_ele"):
        element: etree._Element = reply.data_ele
        return element
    found = etree.fromstring(reply.xml.encode()).find(f"{{{NC}}}data")
    assert found is not None, reply.xml
    return found


class RawSession:
    """A NETCONF session over a plain asyncssh channel: the test frames bytes by hand."""

    def __init__(self, conn: Any, writer: Any, reader: Any) -> None:
        self.conn = conn
        self.writer = writer
        self.reader = reader
        self.decoder = FrameDecoder(1 << 26)
        self.server_hello: etree._Element | None = None

    @classmethod
    async def open(cls, port: int, password: str = ADMIN_PASSWORD) -> RawSession:
        conn = await asyncssh.connect(
            "127.0.0.1",
            port,
            username="admin",
            password=password,
            known_hosts=None,
            client_keys=None,
            agent_path=None,
        )
        writer, reader, _ = await conn.open_session(subsystem="netconf", encoding=None)
        return cls(conn, writer, reader)

    async def read_message(self, timeout: float = 10) -> bytes | None:
        """The next message, or None when the server closed the channel."""
        while True:
            message = self.decoder.next_message()
            if message is not None:
                return message
            data = await asyncio.wait_for(self.reader.read(65536), timeout)
            if not data:
                return None
            self.decoder.feed(data)

    async def hello(self, base11: bool = True) -> etree._Element:
        """Exchange hellos; switch to chunked framing when both sides offer base:1.1."""
        message = await self.read_message()
        assert message is not None
        self.server_hello = etree.fromstring(message)
        caps = "<capability>urn:ietf:params:netconf:base:1.0</capability>"
        if base11:
            caps += "<capability>urn:ietf:params:netconf:base:1.1</capability>"
        self.writer.write(
            f'<hello xmlns="{NC}"><capabilities>{caps}</capabilities></hello>]]>]]>'.encode()
        )
        if base11:
            self.decoder.use_chunked()
        return self.server_hello

    def send(self, message: bytes) -> None:
        """Send one message with the session's framing."""
        if self.decoder.chunked:
            self.writer.write(encode_chunked(message))
        else:
            self.writer.write(message + b"]]>]]>")

    async def rpc(self, body: str, message_id: str = "1") -> etree._Element:
        """Send ``<rpc>`` around ``body`` and parse the reply."""
        self.send(f'<rpc xmlns="{NC}" message-id="{message_id}">{body}</rpc>'.encode())
        reply = await self.read_message()
        assert reply is not None, "session closed instead of replying"
        return etree.fromstring(reply)

    async def closed(self, timeout: float = 10) -> bool:
        """Whether the server closes the channel (reading until EOF)."""
        try:
            while True:
                data = await asyncio.wait_for(self.reader.read(65536), timeout)
                if not data:
                    return True
        except (asyncssh.Error, ConnectionError):
            return True

    def close(self) -> None:
        self.conn.close()


def run_raw(port: int, scenario: Callable[[RawSession], Coroutine[Any, Any, T]]) -> T:
    """Open a raw session, run ``scenario`` on it in a fresh event loop, close it."""

    async def main() -> T:
        raw = await RawSession.open(port)
        try:
            return await scenario(raw)
        finally:
            raw.close()
            await raw.conn.wait_closed()

    return asyncio.run(main())


def error_tags(reply: etree._Element) -> list[str]:
    """The error-tag of every rpc-error of a reply."""
    return [e.text or "" for e in reply.iter(f"{{{NC}}}error-tag")]
