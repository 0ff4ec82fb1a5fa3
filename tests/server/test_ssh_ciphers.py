"""The SSH ciphers offered come from ServerConfig.ssh_ciphers (AEAD only by default)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncssh
import pytest
from server_helpers import ADMIN_PASSWORD, RunningServer

from agent.config import ConfigError, ServerConfig


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
        with pytest.raises(asyncssh.KeyExchangeFailed):
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
