"""The NETCONF server (RFC 6241 over SSH, RFC 6242): one module per capability.

``NetconfServer`` (in ``agent.server.server``) is imported lazily so that the small library
modules of this package (framing, errors, with_defaults...) can be imported on their own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent.server.server import ConfigChange, NetconfServer

__all__ = ["ConfigChange", "NetconfServer"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from agent.server import server

        return getattr(server, name)
    raise AttributeError(f"module 'agent.server' has no attribute {name!r}")
