"""The one small interface every native-model source implements.

A source answers reads of a device's native models (config or operational) with XML, the
way a NETCONF ``get-config``/``get`` would.  The engine's subscriber only sees this
interface; ``host``, ``snapshot`` and ``netconf`` sources live beside it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

from lxml import etree


class SourceError(Exception):
    """A read failed (unreachable device, timeout, bad reply). The subscriber retries."""


@dataclass(frozen=True)
class ReadRequest:
    """One read of native data.

    ``datastore`` "running" reads configuration (get-config), "operational" reads config and
    state (get).  ``filter`` is a subtree filter (XML text of the filter's children) or an
    XPath 1.0 expression whose prefixes ``namespaces`` maps; an empty filter reads everything.
    """

    datastore: Literal["running", "operational"] = "operational"
    filter_type: Literal["subtree", "xpath"] = "subtree"
    filter: str = ""
    namespaces: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 30.0


OnChange = Callable[[etree._Element], None]


class Source(Protocol):
    """A provider of native model data."""

    name: str  # what the event history and statistics call it, e.g. "host"

    async def read(self, request: ReadRequest) -> etree._Element:
        """Return a ``<data>`` element (NETCONF base namespace) holding the selected
        top-level subtrees; raise SourceError on failure."""
        ...

    def watch(self, request: ReadRequest, callback: OnChange) -> bool:
        """Call ``callback`` with a ``<data>`` element whenever the selected data changes.
        Return False when the source cannot push changes (the subscriber then polls)."""
        ...

    async def close(self) -> None: ...
