"""One NETCONF session: hello exchange, framing switch, the rpc loop, timeouts, teardown.

The session reads from a byte channel (an SSH ``netconf`` subsystem today; anything with the
``Channel`` interface tomorrow), so framing and RPC handling never see SSH.  RPCs of one
session are handled in order (replies must come back in order, RFC 6241 §4.1); different
sessions run as separate tasks on one event loop, so a slow client only waits on itself.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Hashable
from typing import TYPE_CHECKING, Protocol

from lxml import etree

from agent.api import NETCONF_BASE_NS, RpcError
from agent.server import errors
from agent.server.dispatch import OpContext, serialize_child
from agent.server.errors import RpcErrors, rpc_error_element
from agent.server.framing import (
    FrameDecoder,
    FramingError,
    MessageTooLarge,
    encode_chunked,
    encode_eom,
)
from agent.server.requestmemo import recognise
from agent.server.xmlparse import XmlError

if TYPE_CHECKING:
    from agent.server.server import NetconfServer

log = logging.getLogger(__name__)

BASE_10 = "urn:ietf:params:netconf:base:1.0"
BASE_11 = "urn:ietf:params:netconf:base:1.1"
_NC = f"{{{NETCONF_BASE_NS}}}"
_READ_SIZE = 256 * 1024


class Channel(Protocol):
    """The byte stream a session runs on."""

    async def read(self, size: int) -> bytes: ...

    def write(self, data: bytes) -> None: ...

    async def drain(self) -> None: ...

    def close(self) -> None: ...


def _reply_element(rpc: etree._Element | None, message_id: str | None) -> etree._Element:
    """An empty ``<rpc-reply>`` for ``rpc``: every attribute of ``<rpc>`` comes back
    unchanged (RFC 6241 §4.2), the message-id as ``message_id`` unless None, and the
    namespace declarations of ``<rpc>`` stay in scope (values of echoed attributes may use
    them)."""
    nsmap: dict[str | None, str] = {None: NETCONF_BASE_NS}
    if rpc is None:
        return etree.Element(_NC + "rpc-reply", nsmap=nsmap)  # type: ignore[arg-type]
    for prefix, namespace in rpc.nsmap.items():
        if prefix is not None and namespace != NETCONF_BASE_NS:
            nsmap[prefix] = namespace
    reply = etree.Element(_NC + "rpc-reply", nsmap=nsmap)  # type: ignore[arg-type]
    for name, value in rpc.attrib.items():
        reply.set(name, message_id if name == "message-id" and message_id else value)
    return reply


# The start of a reply (XML declaration and <rpc-reply ...> start tag) depends only on the
# rpc's attributes and namespace declarations, and a client sends the same ones every time
# but for the message-id.  So it is serialised once per shape with a placeholder id, and a
# message-id that needs no escaping is spliced in: lxml costs several microseconds a reply.
_SPLICEABLE_ID = re.compile(r"[A-Za-z0-9_.:/+@-]{1,256}")
_ID_PLACEHOLDER = "pa-message-id-placeholder"
_MAX_REPLY_STARTS = 256
_reply_starts: dict[Hashable, tuple[bytes, bytes]] = {}


def _serialised_start(rpc: etree._Element | None, message_id: str | None = None) -> bytes:
    head = etree.tostring(_reply_element(rpc, message_id), encoding="UTF-8", xml_declaration=True)
    return head[:-2] + b">"  # <rpc-reply .../> -> <rpc-reply ...>


def reply_start(rpc: etree._Element | None) -> bytes:
    """``<?xml ...?>`` and the ``<rpc-reply ...>`` start tag answering ``rpc``."""
    message_id = rpc.get("message-id") if rpc is not None else None
    if rpc is None or message_id is None or not _SPLICEABLE_ID.fullmatch(message_id):
        return _serialised_start(rpc)
    shape = (
        # every attribute in order, the message-id's place marked but not its value
        tuple((name, None if name == "message-id" else value) for name, value in rpc.items()),
        tuple(rpc.nsmap.items()),
    )
    parts = _reply_starts.get(shape)
    if parts is None:
        pieces = _serialised_start(rpc, _ID_PLACEHOLDER).split(_ID_PLACEHOLDER.encode())
        if len(pieces) != 2:  # another attribute's value holds the placeholder text
            return _serialised_start(rpc)
        if len(_reply_starts) >= _MAX_REPLY_STARTS:
            _reply_starts.clear()  # many shapes: an unusual client; start over
        parts = _reply_starts[shape] = (pieces[0], pieces[1])
    return parts[0] + message_id.encode() + parts[1]


class SessionClosed(Exception):
    """The peer closed the channel, or the session must end now."""


class NetconfSession:
    """State and loop of one NETCONF session."""

    def __init__(
        self,
        server: NetconfServer,
        session_id: int,
        username: str,
        source_host: str,
        channel: Channel,
    ) -> None:
        self.server = server
        self.session_id = session_id
        self.username = username
        self.source_host = source_host
        self.channel = channel
        self.login_time = time.time()
        self.chunked = False
        self.client_capabilities: list[str] = []
        self.decoder = FrameDecoder(server.config.max_message_size)
        self.closing = False  # set by close-session: end after the reply is sent
        self.task: asyncio.Task[None] | None = None
        self.established = False  # hello exchange done
        self.killed = False
        # idle timeout: one timer per session instead of one per read (see _watch_idle)
        self._waiting_since: float | None = None  # loop time a wait for an RPC started
        self._idle_timer: asyncio.TimerHandle | None = None
        self._idle_expired = False
        self._loop: asyncio.AbstractEventLoop | None = None  # set by run()
        # RFC 6022 per-session counters
        self.in_rpcs = 0
        self.in_bad_rpcs = 0
        self.out_rpc_errors = 0
        self.out_notifications = 0

    # -- I/O ---------------------------------------------------------------------------

    async def _send(self, message: bytes) -> None:
        self.channel.write(encode_chunked(message) if self.chunked else encode_eom(message))
        await self.channel.drain()

    async def _receive(self, timeout: float) -> bytes:
        """The next complete message; raise SessionClosed on EOF, TimeoutError on timeout."""
        deadline = None if timeout <= 0 else asyncio.get_running_loop().time() + timeout
        while True:
            message = self.decoder.next_message()
            if message is not None:
                return message
            if deadline is None:
                data = await self.channel.read(_READ_SIZE)
            else:
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    raise TimeoutError
                # asyncio.timeout, unlike wait_for, creates no task per read
                async with asyncio.timeout(remaining):
                    data = await self.channel.read(_READ_SIZE)
            if not data:
                raise SessionClosed("channel closed by the peer")
            self.decoder.feed(data)

    async def _receive_rpc(self) -> bytes:
        """The next message of the rpc loop; the idle timeout is enforced by ``_watch_idle``
        (cancelling this wait), which costs no timer operations per read."""
        message = self.decoder.next_message()
        if message is not None:
            return message
        timeout = self.server.config.idle_timeout
        if timeout > 0:
            loop = self._loop or asyncio.get_running_loop()
            self._waiting_since = loop.time()
            if self._idle_timer is None:
                self._idle_timer = loop.call_at(self._waiting_since + timeout, self._watch_idle)
        try:
            while True:
                data = await self.channel.read(_READ_SIZE)
                if not data:
                    raise SessionClosed("channel closed by the peer")
                self.decoder.feed(data)
                message = self.decoder.next_message()
                if message is not None:
                    return message
        finally:
            self._waiting_since = None

    def _watch_idle(self) -> None:
        """The idle timer fired: end a session that has waited for an RPC for the whole idle
        timeout, else look again when its current wait (or a wait starting now) would end."""
        loop = self._loop or asyncio.get_running_loop()
        timeout = self.server.config.idle_timeout
        since = self._waiting_since
        now = loop.time()
        if since is not None and now - since >= timeout:
            self._idle_timer = None
            self._idle_expired = True
            if self.task is not None:
                self.task.cancel()
            return
        self._idle_timer = loop.call_at(
            (since if since is not None else now) + timeout, self._watch_idle
        )

    # -- the session -----------------------------------------------------------------

    async def run(self) -> None:
        """Run the session until close-session, kill-session, EOF, timeout or a fatal error."""
        clean = False
        self._loop = asyncio.get_running_loop()
        try:
            await self._send(self.server.hello_message(self.session_id))
            if not await self._hello():
                return
            self.established = True
            while not self.closing:
                try:
                    message = await self._receive_rpc()
                except MessageTooLarge as exc:
                    # skipped whole by the decoder: say so, and go on with the next message
                    self._count_bad()
                    await self._send(self._error_reply(None, [errors.too_big(str(exc))]))
                    continue
                reply = await self.handle_message(message)
                if reply is not None:
                    await self._send(reply)
                # A client that pipelines RPCs has the next one buffered already, and then
                # nothing above would yield to the loop: let the other sessions run first.
                # (Without buffered bytes the next read waits on the socket and yields; an
                # unconditional yield costs an extra loop pass, ~50 us of latency, per RPC.)
                if self.decoder.pending:
                    await asyncio.sleep(0)
            clean = True
        except SessionClosed as exc:
            log.debug("session %d: %s", self.session_id, exc)
        except FramingError as exc:
            log.info("session %d: framing error, closing: %s", self.session_id, exc)
        except (ConnectionError, BrokenPipeError) as exc:
            log.debug("session %d: connection lost: %s", self.session_id, exc)
        except asyncio.CancelledError:
            if self._idle_expired and not self.killed:
                log.info("session %d: idle timeout", self.session_id)
            elif not self.killed:
                raise
        except Exception:
            # whatever went wrong, one session's failure must not leak into the others
            log.exception("session %d failed", self.session_id)
        finally:
            if self._idle_timer is not None:
                self._idle_timer.cancel()
                self._idle_timer = None
            self.server.session_ended(self, clean=clean)
            self.channel.close()

    async def _hello(self) -> bool:
        """Receive and check the client's hello; False closes the session."""
        try:
            message = await self._receive(self.server.config.hello_timeout)
        except TimeoutError:
            log.info("session %d: no hello within the hello timeout", self.session_id)
            self.server.stats.in_bad_hellos += 1
            return False
        except MessageTooLarge as exc:
            log.info("session %d: hello %s, closing", self.session_id, exc)
            self.server.stats.in_bad_hellos += 1
            return False
        try:
            root = self.server.parser.parse(message)
        except XmlError as exc:
            log.info("session %d: bad hello: %s", self.session_id, exc)
            self.server.stats.in_bad_hellos += 1
            return False
        capabilities: list[str] = []
        if root.tag == _NC + "hello":
            for element in root.iterchildren(_NC + "capabilities"):
                capabilities.extend(
                    (cap.text or "").strip() for cap in element.iterchildren(_NC + "capability")
                )
        bad = (
            root.tag != _NC + "hello"
            or root.find(_NC + "session-id") is not None  # RFC 6241 §8.1: client must not send one
            or not ({BASE_10, BASE_11} & set(capabilities))
        )
        if bad:
            log.info("session %d: malformed hello, closing", self.session_id)
            self.server.stats.in_bad_hellos += 1
            return False
        self.client_capabilities = capabilities
        if BASE_11 in capabilities:
            self.chunked = True
            self.decoder.use_chunked()
        self.server.stats.in_sessions += 1
        return True

    async def handle_message(self, message: bytes) -> bytes | None:
        """Handle one received message; return the serialised reply (None: no reply)."""
        memo = self.server.request_memo
        request = recognise(self.username, message)
        if request is not None and len(memo):
            repeated = memo.reply(request)
            if repeated is not None:
                self.in_rpcs += 1
                self.server.stats.in_rpcs += 1
                return repeated
        try:
            rpc = self.server.parser.parse(message)
        except XmlError as exc:
            self._count_bad()
            return self._error_reply(None, [self._malformed(str(exc))])
        if rpc.tag == _NC + "hello":
            # RFC 6241 §8.1: a second hello is a protocol violation; the session ends
            raise SessionClosed("second <hello> received")
        if rpc.tag != _NC + "rpc":
            self._count_bad()
            return self._error_reply(
                None, [self._malformed(f"expected <rpc>, got <{etree.QName(rpc).localname}>")]
            )
        if rpc.get("message-id") is None:
            self._count_bad()
            return self._error_reply(rpc, [errors.missing_attribute("message-id", "rpc")])
        operations = [child for child in rpc if isinstance(child.tag, str)]
        if len(operations) != 1:
            self._count_bad()
            error = (
                errors.missing_element("rpc", "<rpc> holds no operation", type="protocol")
                if not operations
                else errors.unknown_element(
                    etree.QName(operations[1]).localname,
                    "<rpc> holds more than one operation",
                    type="protocol",
                )
            )
            return self._error_reply(rpc, [error])
        op = operations[0]
        try:
            handler = self.server.dispatcher.lookup(op)
        except RpcError as exc:
            self._count_bad()  # RFC 6022: errors on the rpc layer make a bad rpc
            return self._error_reply(rpc, [exc])
        # a well-formed rpc (in-rpcs); its operation's errors count in out-rpc-errors only
        self.in_rpcs += 1
        self.server.stats.in_rpcs += 1
        ctx = OpContext(self, self.server)
        try:
            children = await handler(ctx, op)
        except RpcErrors as exc:
            return self._error_reply(rpc, exc.errors)
        except RpcError as exc:
            return self._error_reply(rpc, [exc])
        except Exception:
            log.exception("session %d: operation %s failed", self.session_id, op.tag)
            return self._error_reply(
                rpc, [errors.operation_failed("internal error while handling the operation")]
            )
        if not children:
            return self._wrap_reply(rpc, [b"<ok/>"])
        bodies = [c if isinstance(c, bytes) else serialize_child(c) for c in children]
        bodies.append(b"</rpc-reply>")
        start = reply_start(rpc)
        if ctx.valid_while is not None and request is not None:
            memo.remember(request, start, bodies, ctx.valid_while)
        return b"".join([start, *bodies])

    def _wrap_reply(self, rpc: etree._Element | None, bodies: list[bytes]) -> bytes:
        """``<rpc-reply>`` around children already serialised in place (see
        serialize_child): moving them under the reply would let lxml drop namespace
        declarations that values need (identityrefs, error-path prefixes)."""
        return b"".join([reply_start(rpc), *bodies, b"</rpc-reply>"])

    # -- replies ---------------------------------------------------------------------

    def _malformed(self, reason: str) -> RpcError:
        if self.chunked:
            return errors.malformed_message(reason)
        # RFC 6241 Appendix A: malformed-message is new in base:1.1 and must not be sent to
        # base:1.0 clients; they get operation-failed with the same text.
        return errors.operation_failed(reason, type="rpc")

    def _count_bad(self) -> None:
        self.in_bad_rpcs += 1
        self.server.stats.in_bad_rpcs += 1

    def _error_reply(self, rpc: etree._Element | None, errs: list[RpcError]) -> bytes:
        if any(e.severity == "error" for e in errs):
            self.out_rpc_errors += 1
            self.server.stats.out_rpc_errors += 1
        return self._wrap_reply(rpc, [serialize_child(rpc_error_element(e)) for e in errs])

    # -- control from other sessions ------------------------------------------------

    def kill(self) -> None:
        """End the session now (kill-session, server shutdown)."""
        self.killed = True
        if self.task is not None and self.task is not asyncio.current_task():
            self.task.cancel()
        self.channel.close()
