"""Native model sources: the agent's own Linux host, snapshot files, or a device over NETCONF.

``open_source(spec, state_dir=...)`` turns the ``--source`` text into a ``Source``:

``host``
    the agent's own Linux host (``agent.sources.host``), the default.
``snapshot:DIR``
    native XML files (``agent.sources.snapshot`` documents the layout).
``netconf://USER@HOST:PORT[?option=value&...]``
    a device polled over NETCONF (``agent.sources.netconf``).  The password comes from
    ``$PA_SOURCE_PASSWORD``; without it, key authentication is used (the ``key`` option, else
    the SSH agent and ``~/.ssh`` keys).  Options: ``hostkey`` = ``accept-new`` (default: trust
    on first use, fingerprints kept in ``STATE_DIR/source_known_hosts``), ``strict`` (the host
    must already be in that file or in ``~/.ssh/known_hosts``) or ``off`` (no check, for
    labs); ``key`` = private key file; ``timeout`` = seconds per read (default 30);
    ``connect-timeout`` = seconds to connect (default 10).  Port defaults to 830.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from agent.sources.base import OnChange, ReadRequest, Source, SourceError

__all__ = [
    "OnChange",
    "ReadRequest",
    "Source",
    "SourceError",
    "SourceSpecError",
    "open_source",
]

HOSTKEY_MODES = ("accept-new", "strict", "off")


class SourceSpecError(ValueError):
    """The ``--source`` text is malformed; the message says what is wrong and what is valid."""


def open_source(
    spec: str,
    *,
    state_dir: Path,
    env: Mapping[str, str] | None = None,
) -> Source:
    """Build the source ``spec`` names (see the module docstring).

    Raises SourceSpecError for a malformed spec and SourceError when the named thing cannot be
    used (e.g. a snapshot folder that does not exist).  A netconf source does not connect
    here: it connects on its first read and reconnects by itself.
    """
    env = os.environ if env is None else env
    text = spec.strip()
    if text == "host":
        from agent.sources.host import HostSource

        return HostSource()
    if text.startswith("snapshot:"):
        folder = text.removeprefix("snapshot:")
        if not folder:
            raise SourceSpecError("snapshot source needs a folder: snapshot:DIR")
        from agent.sources.snapshot import SnapshotSource

        return SnapshotSource(Path(folder).expanduser())
    if text.startswith("netconf://"):
        return _open_netconf(text, state_dir=state_dir, env=env)
    raise SourceSpecError(
        f"unknown source {spec!r}: expected host, snapshot:DIR or netconf://USER@HOST:PORT"
    )


def _open_netconf(text: str, *, state_dir: Path, env: Mapping[str, str]) -> Source:
    from agent.sources.netconf import NetconfSource, NetconfTarget

    try:
        url = urlsplit(text)
        port = url.port or 830
    except ValueError as exc:
        raise SourceSpecError(f"bad netconf source {text!r}: {exc}") from exc
    if not url.hostname:
        raise SourceSpecError(f"netconf source {text!r} has no host: netconf://USER@HOST:PORT")
    if not url.username:
        raise SourceSpecError(f"netconf source {text!r} has no user: netconf://USER@HOST:PORT")
    if url.path not in ("", "/"):
        raise SourceSpecError(f"netconf source {text!r}: unexpected path {url.path!r}")
    if url.password:
        raise SourceSpecError(
            "do not put the password in the source URL; set $PA_SOURCE_PASSWORD instead"
        )
    options = dict(parse_qsl(url.query, keep_blank_values=True))
    known = {"hostkey", "key", "timeout", "connect-timeout"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise SourceSpecError(
            f"netconf source: unknown option(s) {', '.join(unknown)} "
            f"(known: {', '.join(sorted(known))})"
        )
    hostkey = options.get("hostkey", "accept-new")
    if hostkey not in HOSTKEY_MODES:
        raise SourceSpecError(
            f"netconf source: hostkey={hostkey!r} (expected {', '.join(HOSTKEY_MODES)})"
        )
    timeouts: dict[str, float] = {}
    for option, default in (("timeout", 30.0), ("connect-timeout", 10.0)):
        raw = options.get(option)
        try:
            value = default if raw is None else float(raw)
        except ValueError:
            raise SourceSpecError(f"netconf source: {option}={raw!r} is not a number") from None
        if not value > 0:
            raise SourceSpecError(f"netconf source: {option} must be greater than 0")
        timeouts[option] = value
    target = NetconfTarget(
        host=url.hostname,
        port=port,
        username=unquote(url.username),
        password=env.get("PA_SOURCE_PASSWORD") or None,
        key_filename=options.get("key") or None,
        hostkey=hostkey,
        known_hosts=state_dir / "source_known_hosts",
        read_timeout=timeouts["timeout"],
        connect_timeout=timeouts["connect-timeout"],
    )
    return NetconfSource(target)
