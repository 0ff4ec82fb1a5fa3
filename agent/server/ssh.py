"""SSH transport (RFC 6242): an asyncssh server offering the ``netconf`` subsystem.

Authentication is by password (scrypt hashes in the state directory) or public key (the
user's authorized_keys file); everything else asyncssh offers (shell, exec, port forwarding,
agent and X11 forwarding, SFTP) is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any

import asyncssh
from asyncssh.constants import MSG_IGNORE
from asyncssh.encryption import get_encryption_algs

from agent.config import ConfigError
from agent.server.auth import UserStore

log = logging.getLogger(__name__)

SUBSYSTEM = "netconf"


class ProcessChannel:
    """The ``session.Channel`` interface over an asyncssh server process (binary mode)."""

    def __init__(self, process: asyncssh.SSHServerProcess[bytes]) -> None:
        self._process = process
        self._coalescer = _coalescing_transport(process.channel.get_connection())

    async def read(self, size: int) -> bytes:
        try:
            data: bytes = await self._process.stdin.read(size)
        except (asyncssh.BreakReceived, asyncssh.SignalReceived, asyncssh.TerminalSizeChanged):
            return b""
        return data

    def write(self, data: bytes) -> None:
        if self._coalescer is None:
            self._process.stdout.write(data)
            return
        with self._coalescer.batch():
            self._process.stdout.write(data)

    async def drain(self) -> None:
        await self._process.stdout.drain()

    def close(self) -> None:
        if not self._process.is_closing():
            self._process.exit(0)


class CoalescingTransport:
    """Lets the packets of one NETCONF message reach the socket in one ``send``.

    asyncssh writes each SSH packet separately: a reply larger than the channel's packet size
    (32 KiB), or any reply under a CBC cipher (an SSH_MSG_IGNORE packet goes before each
    packet, see ``_skip_ignore_packets``), took one ``send`` system call per packet.  Inside
    ``batch()`` writes are collected and handed over as one at its end; outside, they pass
    straight through.  The order of bytes never changes.
    """

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._pending: list[bytes] | None = None

    def write(self, data: bytes) -> None:
        if self._pending is None:
            self._transport.write(data)
        else:
            self._pending.append(data)

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Collect the writes made inside the block and write them as one."""
        if self._pending is not None:  # nested: the outer batch writes
            yield
            return
        pending: list[bytes] = []
        self._pending = pending
        try:
            yield
        finally:
            self._pending = None
            if pending and not self._transport.is_closing():
                self._transport.write(b"".join(pending))

    def __getattr__(self, name: str) -> Any:
        # asyncssh calls abort and get_extra_info on its transport as well
        return getattr(self._transport, name)


def _coalescing_transport(conn: object) -> CoalescingTransport | None:
    """Route the connection's packet writes through a ``CoalescingTransport``."""
    # asyncssh has no public hook for its transport; it calls write, abort and get_extra_info
    # on it.  If a future version names it differently, writes simply stay as they are.
    transport = getattr(conn, "_transport", None)
    if isinstance(transport, CoalescingTransport):
        return transport
    if isinstance(transport, asyncio.Transport):
        wrapped = CoalescingTransport(transport)
        setattr(conn, "_transport", wrapped)  # noqa: B010 (a private attribute of asyncssh)
        return wrapped
    return None


# What asyncssh puts before every packet it encrypts: an SSH_MSG_IGNORE with empty data.
_EMPTY_IGNORE_DATA = (b"\x00\x00\x00\x00",)  # the SSH string b""


def _skip_ignore_packets(conn: asyncssh.SSHServerConnection) -> None:
    """Stop asyncssh from sending an empty SSH_MSG_IGNORE before each packet, unless the
    connection encrypts with a CBC cipher.

    The empty ignore packet is the countermeasure of RFC 4251 §9.3.1 against a
    chosen-plaintext attack on CBC mode (an attacker predicting the next IV); with CTR and
    the AEAD ciphers we offer by default it protects nothing, and it costs a second packet
    (build, encrypt, send) for every reply.  OpenSSH sends none.  asyncssh has no option for
    it, so the connection's ``send_packet`` (which inserts it by calling itself) is wrapped
    on this one connection; every other packet passes unchanged.
    """
    send_packet = conn.send_packet

    def without_empty_ignore(pkttype: int, *args: bytes, **kwargs: Any) -> None:
        if pkttype == MSG_IGNORE and args == _EMPTY_IGNORE_DATA:
            cipher = str(conn.get_extra_info("send_cipher", ""))
            if not cipher.endswith("-cbc") and not cipher.endswith("-cbc@ssh.com"):
                return
        send_packet(pkttype, *args, **kwargs)

    setattr(conn, "send_packet", without_empty_ignore)  # noqa: B010 (one instance only)


class _SSHServer(asyncssh.SSHServer):
    def __init__(self, users: UserStore) -> None:
        self._users = users
        self._conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        _coalescing_transport(conn)
        _skip_ignore_packets(conn)

    def begin_auth(self, username: str) -> bool:
        keys = self._users.authorized_keys(username)
        if keys is not None and self._conn is not None:
            self._conn.set_authorized_keys(keys)
        return True  # every user must authenticate

    def password_auth_supported(self) -> bool:
        return True

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> Awaitable[bool]:
        # scrypt is deliberately slow: run it off the event loop so other sessions go on
        loop = asyncio.get_running_loop()
        return loop.run_in_executor(None, self._users.check_password, username, password)


SessionStarter = Callable[[ProcessChannel, str, str], Awaitable[None]]


async def start_ssh_server(
    host: str,
    port: int,
    host_key: asyncssh.SSHKey,
    users: UserStore,
    start_session: SessionStarter,
    ciphers: Sequence[str],
) -> asyncssh.SSHAcceptor:
    """Listen on ``host``:``port``; each ``netconf`` subsystem request becomes a session.

    Only ``ciphers`` are offered (ServerConfig.ssh_ciphers); an unknown name is a
    ConfigError naming it, raised before anything listens.
    """
    supported = {alg.decode() for alg in get_encryption_algs()}
    unknown = [name for name in ciphers if name not in supported]
    if unknown or not ciphers:
        raise ConfigError(
            f"[server] ssh-ciphers: unsupported {unknown or 'empty list'}; "
            f"supported: {', '.join(sorted(supported))}"
        )

    async def process_factory(process: asyncssh.SSHServerProcess[bytes]) -> None:
        if process.subsystem != SUBSYSTEM:
            process.stderr.write(b"only the 'netconf' subsystem is offered\n")
            process.exit(1)
            return
        username: str = process.get_extra_info("username") or ""
        peer: Any = process.get_extra_info("peername")
        source_host = str(peer[0]) if peer else ""
        await start_session(ProcessChannel(process), username, source_host)

    return await asyncssh.create_server(
        lambda: _SSHServer(users),
        host,
        port,
        server_host_keys=[host_key],
        process_factory=process_factory,
        encoding=None,
        allow_pty=False,
        agent_forwarding=False,
        x11_forwarding=False,
        allow_scp=False,
        line_editor=False,
        kbdint_auth=False,
        keepalive_interval=0,
        encryption_algs=list(ciphers),
    )
