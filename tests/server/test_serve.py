"""``pa-agent serve`` as a process, the admin bootstrap, host key and users across restarts,
and public-key authentication."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import asyncssh
from server_helpers import NC, RunningServer

from agent.server.auth import UserStore, verify_password


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_agent(state_dir: Path, port: int, env: dict[str, str]) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "agent.cli.pa_agent", "serve", "--port", str(port),
         "--state-dir", str(state_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )  # fmt: skip
    assert process.stderr is not None
    for line in process.stderr:
        match = re.search(r"created user 'admin' with password (\S+)", line)
        if match:
            PASSWORDS[state_dir] = match.group(1)
        if "listening" in line or "Traceback" in line:
            break
    return process


def stop_agent(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=30)
    return err


async def host_key_and_hello(port: int, password: str) -> tuple[str, str]:
    async with asyncssh.connect(
        "127.0.0.1", port, username="admin", password=password, known_hosts=None,
        client_keys=None, agent_path=None,
    ) as conn:  # fmt: skip
        key = conn.get_server_host_key()
        assert key is not None
        writer, reader, _ = await conn.open_session(subsystem="netconf", encoding=None)
        data = b""
        while b"]]>]]>" not in data:
            data += await reader.read(65536)
        writer.close()
        return key.export_public_key().decode(), data.decode()


def test_serve_bootstraps_admin_and_keeps_state(tmp_path: Path) -> None:
    state = tmp_path / "state"
    env = {k: v for k, v in os.environ.items() if k != "PA_AGENT_PASSWORD"}
    port = free_port()
    process = start_agent(state, port, env)
    try:
        key1, hello = asyncio.run(host_key_and_hello(port, read_password(state, process)))
        assert "urn:ietf:params:netconf:base:1.1" in hello
    finally:
        stop_agent(process)
    password = PASSWORDS[state]
    # only the hash is stored
    assert password not in (state / "users.json").read_text()
    assert UserStore(state).check_password("admin", password)
    assert (state / "ssh_host_ed25519_key").exists()
    # a restart keeps the host key and the user, and prints no new password
    port = free_port()
    process = start_agent(state, port, env)
    try:
        key2, _ = asyncio.run(host_key_and_hello(port, password))
    finally:
        err = stop_agent(process)
    assert "created user" not in err
    assert key1 == key2


PASSWORDS: dict[Path, str] = {}


def read_password(state: Path, process: subprocess.Popen[str]) -> str:
    """The generated admin password from the first start's log line."""
    return PASSWORDS[state]


def test_password_from_environment(tmp_path: Path) -> None:
    store = UserStore(tmp_path)
    os.environ["PA_AGENT_PASSWORD"] = "from-env"
    try:
        assert store.ensure_admin() is None
    finally:
        del os.environ["PA_AGENT_PASSWORD"]
    assert store.check_password("admin", "from-env")
    assert not store.check_password("admin", "other")
    assert not store.check_password("nobody", "from-env")
    assert not verify_password("x", "not-a-hash")


def test_public_key_authentication(tmp_path: Path) -> None:
    server = RunningServer(tmp_path / "s")
    key = asyncssh.generate_private_key("ssh-ed25519")
    UserStore(tmp_path / "s").add_authorized_key("admin", key.export_public_key().decode())
    other = asyncssh.generate_private_key("ssh-ed25519")

    async def login(client_key: asyncssh.SSHKey) -> bytes:
        async with asyncssh.connect(
            "127.0.0.1", server.port, username="admin", client_keys=[client_key],
            known_hosts=None, agent_path=None, password=None,
        ) as conn:  # fmt: skip
            writer, reader, _ = await conn.open_session(subsystem="netconf", encoding=None)
            data = b""
            while b"]]>]]>" not in data:
                data += await reader.read(65536)
            writer.close()
            return data

    try:
        assert f'<hello xmlns="{NC}"'.encode() in asyncio.run(login(key))
        try:
            asyncio.run(login(other))
            raise AssertionError("an unknown key was accepted")
        except asyncssh.PermissionDenied:
            pass
    finally:
        server.stop()
