"""SSH transport (RFC 6242): an asyncssh server offering the ``netconf`` subsystem.

Authentication is by password (scrypt hashes in the state directory) or public key (the
user's authorized_keys file); everything else asyncssh offers (shell, exec, port forwarding,
agent and X11 forwarding, SFTP) is refused.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import asyncssh

from agent.server.auth import UserStore

log = logging.getLogger(__name__)

SUBSYSTEM = "netconf"


class ProcessChannel:
    """The ``session.Channel`` interface over an asyncssh server process (binary mode)."""

    def __init__(self, process: asyncssh.SSHServerProcess[bytes]) -> None:
        self._process = process

    async def read(self, size: int) -> bytes:
        try:
            data: bytes = await self._process.stdin.read(size)
        except (asyncssh.BreakReceived, asyncssh.SignalReceived, asyncssh.TerminalSizeChanged):
            return b""
        return data

    def write(self, data: bytes) -> None:
        self._process.stdout.write(data)

    async def drain(self) -> None:
        await self._process.stdout.drain()

    def close(self) -> None:
        if not self._process.is_closing():
            self._process.exit(0)


class _SSHServer(asyncssh.SSHServer):
    def __init__(self, users: UserStore) -> None:
        self._users = users
        self._conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn

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
) -> asyncssh.SSHAcceptor:
    """Listen on ``host``:``port``; each ``netconf`` subsystem request becomes a session."""

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
    )
