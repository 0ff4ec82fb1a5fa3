"""The agent's configuration file (TOML) and its defaults.

Everything an operator sets before start lives here: listen address, session limits,
trusted policy keys, grace period.  What is configured over NETCONF (enabled, storage,
transport) lives in the datastores instead.  Unknown keys are errors, so a typo never passes
silently.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """The configuration file is unreadable or has a bad value; the message names the key."""


@dataclass
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8830
    max_sessions: int = 64
    hello_timeout: float = 30.0  # seconds to receive the client's <hello>
    idle_timeout: float = 3600.0  # seconds without an RPC before a session is closed; 0 = never
    max_message_size: int = 32 * 1024 * 1024  # bytes in one NETCONF message
    confirmed_commit_timeout: int = 600  # RFC 6241 default confirm-timeout, seconds
    # SSH ciphers offered, AEAD only by default: authenticated encryption, not affected by
    # the CBC/encrypt-and-MAC weaknesses, and cheaper per packet for both ends (measured in
    # BENCHMARKS.md).  Supported by OpenSSH >= 6.5, paramiko >= 3.3, libssh, JSch >= 0.1.72
    # style clients; add "aes128-ctr" etc. here for older clients.
    ssh_ciphers: list[str] = field(
        default_factory=lambda: [
            "aes128-gcm@openssh.com",
            "aes256-gcm@openssh.com",
            "chacha20-poly1305@openssh.com",
        ]
    )


@dataclass
class EngineConfig:
    policy: str = "host"  # shipped policy name or path of a policy file (its .sig beside it)
    source: str = "host"  # host | snapshot:DIR | netconf://USER@HOST:PORT
    trusted_keys: list[str] = field(default_factory=list)  # extra PEM public keys (paths)
    # The project key's private half is public (it signs the shipped policies in the open
    # repository), so by default it never authorizes a policy that arrives by install-policy:
    # only trusted_keys do.  Set true for demonstrations and tests only.
    install_with_project_key: bool = False
    grace_period: float = 7 * 24 * 3600.0  # seconds, in agent time (see --time-scale)


@dataclass
class AgentConfig:
    server: ServerConfig = field(default_factory=ServerConfig)
    engine: EngineConfig = field(default_factory=EngineConfig)
    state_dir: Path = field(default_factory=lambda: default_state_dir())
    time_scale: float = 1.0


def default_state_dir() -> Path:
    """Per-user state folder: ``$XDG_STATE_HOME/pa-agent`` or ``~/.local/state/pa-agent``."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "pa-agent"


def _fill(obj: Any, table: dict[str, Any], section: str) -> None:
    known = {f.name: f for f in fields(obj)}
    for key, value in table.items():
        name = key.replace("-", "_")
        if name not in known:
            raise ConfigError(f"[{section}] unknown key {key!r}")
        current = getattr(obj, name)
        expected: type[Any] = type(current)
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, expected) or isinstance(value, bool) != isinstance(current, bool):
            raise ConfigError(
                f"[{section}] {key} must be {expected.__name__}, not {type(value).__name__}"
            )
        if isinstance(value, list) and not all(isinstance(item, str) for item in value):
            raise ConfigError(f"[{section}] {key} must be a list of strings")
        if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
            raise ConfigError(f"[{section}] {key} must not be negative")
        setattr(obj, name, value)


def load_config(path: Path | None) -> AgentConfig:
    """Read ``path`` (TOML with tables [server] and [engine]) over the defaults."""
    config = AgentConfig()
    if path is None:
        return config
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    for section, value in data.items():
        if section == "server" and isinstance(value, dict):
            _fill(config.server, value, section)
        elif section == "engine" and isinstance(value, dict):
            _fill(config.engine, value, section)
        elif section == "state-dir" and isinstance(value, str):
            config.state_dir = Path(value)
        else:
            raise ConfigError(f"{path}: unknown section or key {section!r}")
    return config
