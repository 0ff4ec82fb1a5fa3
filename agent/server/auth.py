"""Users of the NETCONF server, kept in the state directory.

``users.json`` holds one entry per user with a scrypt password hash (never the password);
``users/<name>/authorized_keys`` (OpenSSH format) holds the user's public keys.  On first
start ``ensure_admin`` creates the user ``admin``: its password comes from
``$PA_AGENT_PASSWORD`` or is generated and printed once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
from pathlib import Path
from typing import Any

import asyncssh

from agent.fileutil import write_atomically

log = logging.getLogger(__name__)

# scrypt cost parameters (RFC 7914): n=2**14, r=8, p=1 takes ~30 ms and 16 MiB, the
# interactive-login figure recommended by the scrypt paper.
_SCRYPT_N = 1 << 14
_SCRYPT_R = 8
_SCRYPT_P = 1
_SCRYPT_LEN = 32
_USER_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")


def hash_password(password: str) -> str:
    """A self-describing scrypt hash: ``scrypt$n$r$p$salt$hash`` (base64 fields)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=_SCRYPT_LEN
    )
    return "$".join(
        [
            "scrypt",
            str(_SCRYPT_N),
            str(_SCRYPT_R),
            str(_SCRYPT_P),
            base64.b64encode(salt).decode(),
            base64.b64encode(digest).decode(),
        ]
    )


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches the hash ``stored`` (constant-time comparison)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
            maxmem=256 * 1024 * 1024,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


class UserStore:
    """The users file and authorized_keys files of one state directory."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.path = state_dir / "users.json"
        # Logins already verified with scrypt, kept in memory only: user -> (stored hash,
        # HMAC of the password under a per-process random key).  A repeated login then
        # costs one HMAC instead of ~40 ms of scrypt; a changed password (new stored hash)
        # invalidates the entry.  Nothing of it ever reaches the disk.
        self._verified: dict[str, tuple[str, bytes]] = {}
        self._cache_key = secrets.token_bytes(32)

    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        if not isinstance(data, dict) or not isinstance(data.get("users", {}), dict):
            raise ValueError(f"{self.path}: not a users file")
        users: dict[str, Any] = data.get("users", {})
        return users

    def _save(self, users: dict[str, Any]) -> None:
        text = json.dumps({"users": users}, indent=2, sort_keys=True) + "\n"
        write_atomically(self.path, text.encode())

    def users(self) -> list[str]:
        """Names of every user."""
        return sorted(self._load())

    def set_password(self, username: str, password: str) -> None:
        """Create ``username`` or change its password."""
        if not _USER_NAME.match(username):
            raise ValueError(f"bad user name {username!r}")
        users = self._load()
        entry = users.setdefault(username, {})
        entry["password"] = hash_password(password)
        self._save(users)

    def check_password(self, username: str, password: str) -> bool:
        """Whether ``username`` exists and ``password`` is its password."""
        entry = self._load().get(username)
        if not isinstance(entry, dict) or not isinstance(entry.get("password"), str):
            # spend the same time as a real check so user names cannot be probed
            verify_password(password, _DUMMY_HASH)
            return False
        stored: str = entry["password"]
        tag = hmac.new(self._cache_key, password.encode(), hashlib.sha256).digest()
        cached = self._verified.get(username)
        if cached is not None and cached[0] == stored and hmac.compare_digest(cached[1], tag):
            return True
        if not verify_password(password, stored):
            return False
        self._verified[username] = (stored, tag)
        return True

    def authorized_keys_path(self, username: str) -> Path:
        """Where the user's OpenSSH authorized_keys file lives."""
        return self.state_dir / "users" / username / "authorized_keys"

    def authorized_keys(self, username: str) -> asyncssh.SSHAuthorizedKeys | None:
        """The user's authorized keys, or None when the user has none."""
        if not _USER_NAME.match(username):
            return None
        path = self.authorized_keys_path(username)
        try:
            return asyncssh.read_authorized_keys(str(path))
        except (FileNotFoundError, ValueError):
            return None

    def add_authorized_key(self, username: str, public_key: str) -> None:
        """Append one OpenSSH public key line to the user's authorized_keys."""
        if not _USER_NAME.match(username):
            raise ValueError(f"bad user name {username!r}")
        asyncssh.import_public_key(public_key)  # refuse garbage early
        path = self.authorized_keys_path(username)
        existing = path.read_bytes() if path.exists() else b""
        write_atomically(path, existing + public_key.strip().encode() + b"\n")

    def ensure_admin(self) -> str | None:
        """Create ``admin`` if there are no users; return the password if it was generated."""
        if self._load():
            return None
        password = os.environ.get("PA_AGENT_PASSWORD")
        generated = None
        if not password:
            password = generated = secrets.token_urlsafe(15)
        self.set_password("admin", password)
        return generated


_DUMMY_HASH = hash_password(secrets.token_urlsafe(8))


def load_or_create_host_key(state_dir: Path) -> asyncssh.SSHKey:
    """The server's Ed25519 host key, created on first start and kept in ``state_dir``."""
    path = state_dir / "ssh_host_ed25519_key"
    if path.exists():
        return asyncssh.read_private_key(str(path))
    key = asyncssh.generate_private_key("ssh-ed25519")
    write_atomically(path, key.export_private_key())
    write_atomically(path.with_suffix(".pub"), key.export_public_key(), mode=0o644)
    log.info("created SSH host key %s", path)
    return key
