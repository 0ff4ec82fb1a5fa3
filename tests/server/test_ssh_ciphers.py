"""The SSH ciphers offered come from ServerConfig.ssh_ciphers (AEAD only by default)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncssh
import pytest
from asyncssh.constants import MSG_IGNORE
from server_helpers import ADMIN_PASSWORD, NC, RunningServer

from agent.config import ConfigError, ServerConfig

BASE10 = "urn:ietf:params:netconf:base:1.0"


async def negotiated_cipher(port: int, client_ciphers: list[str]) -> str:
    async with asyncssh.connect(
        "127.0.0.1",
        port,
        username="admin",
        password=ADMIN_PASSWORD,
        known_hosts=None,
        encryption_algs=client_ciphers,
    ) as conn:
        return str(conn.get_extra_info("send_cipher"))


def test_default_offers_aead_ciphers_only(tmp_path: Path) -> None:
    server = RunningServer(tmp_path / "s")
    try:
        assert asyncio.run(negotiated_cipher(server.port, ["aes128-gcm@openssh.com"])) == (
            "aes128-gcm@openssh.com"
        )
        # the server's disconnect after the failed key exchange races with its closing
        # the connection: the client reports one or the other
        with pytest.raises((asyncssh.KeyExchangeFailed, asyncssh.ConnectionLost)):
            asyncio.run(negotiated_cipher(server.port, ["aes128-ctr"]))
    finally:
        server.stop()


def test_ctr_can_be_enabled_for_old_clients(tmp_path: Path) -> None:
    config = ServerConfig(host="127.0.0.1", port=0, ssh_ciphers=["aes128-ctr"])
    server = RunningServer(tmp_path / "s", config=config)
    try:
        assert asyncio.run(negotiated_cipher(server.port, ["aes128-ctr"])) == "aes128-ctr"
    finally:
        server.stop()


def test_unknown_cipher_is_a_config_error(tmp_path: Path) -> None:
    config = ServerConfig(host="127.0.0.1", port=0, ssh_ciphers=["rot13"])
    with pytest.raises(ConfigError, match="rot13"):
        RunningServer(tmp_path / "s", config=config)


async def ignore_packets_per_rpc(port: int, cipher: str, rpcs: int = 20) -> float:
    """SSH_MSG_IGNORE packets the server sends per NETCONF rpc, seen by the client."""
    conn = await asyncssh.connect(
        "127.0.0.1",
        port,
        username="admin",
        password=ADMIN_PASSWORD,
        known_hosts=None,
        encryption_algs=[cipher],
    )
    seen: list[int] = []
    # count what the client's packet dispatch receives (a test-only look at asyncssh)
    handlers = dict(conn._packet_handlers)  # type: ignore[attr-defined]
    count_and_ignore = handlers[MSG_IGNORE]
    handlers[MSG_IGNORE] = lambda self, *args: (seen.append(1), count_and_ignore(self, *args))
    conn._packet_handlers = handlers  # type: ignore[attr-defined]
    try:
        writer, reader, _ = await conn.open_session(subsystem="netconf", encoding=None)
        hello = f'<hello xmlns="{NC}"><capabilities><capability>{BASE10}</capability>'
        writer.write(f"{hello}</capabilities></hello>]]>]]>".encode())
        buffer = b""
        while buffer.count(b"]]>]]>") < 1:  # the server's hello
            buffer += await reader.read(65536)
        seen.clear()
        rpc = f'<rpc xmlns="{NC}" message-id="1"><get-config><source><running/></source>'
        for _ in range(rpcs):
            writer.write(f"{rpc}</get-config></rpc>]]>]]>".encode())
            buffer = b""
            while not buffer.endswith(b"]]>]]>"):
                buffer += await reader.read(65536)
            assert b"<data" in buffer
        return len(seen) / rpcs
    finally:
        conn.close()
        await conn.wait_closed()


def test_no_ignore_packet_before_each_reply_unless_cbc(tmp_path: Path) -> None:
    """The empty SSH_MSG_IGNORE asyncssh puts before every packet guards CBC only
    (RFC 4251 §9.3.1): with AEAD and CTR ciphers the server sends none, with CBC it does."""
    ciphers = ["aes128-gcm@openssh.com", "chacha20-poly1305@openssh.com", "aes128-ctr"]
    config = ServerConfig(host="127.0.0.1", port=0, ssh_ciphers=[*ciphers, "aes128-cbc"])
    server = RunningServer(tmp_path / "s", config=config)
    try:
        for cipher in ciphers:
            assert asyncio.run(ignore_packets_per_rpc(server.port, cipher)) == 0, cipher
        assert asyncio.run(ignore_packets_per_rpc(server.port, "aes128-cbc")) >= 1
    finally:
        server.stop()
