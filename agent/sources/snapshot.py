"""The ``snapshot`` source: a device's native models read from XML files.

Layout of a snapshot directory ``DIR``::

    DIR/running/*.xml       configuration (what ``get-config`` of running returns)
    DIR/operational/*.xml   operational state (what ``get`` returns beyond the config)

Each file holds either one top-level data element (e.g. ``<native xmlns=...>``) or a wrapper
whose children are top-level data elements: ``<data>`` or ``<config>`` (any namespace), or a
whole ``<rpc-reply>`` with a ``<data>`` child, so a reply captured from a device can be saved
as it is.  Files are read in name order; at least one of the two folders must exist.

A ``running`` read returns the top-level elements of ``running/``.  An ``operational`` read
returns the ``running`` elements merged with those of ``operational/`` (NMDA: operational =
config + state); when both hold the same top-level node they are merged with
``agent.datatree.merge_into`` (containers by name, list entries by key, operational leaves
win), so ``operational/`` may hold either only the state or a full ``get`` reply.

Files are re-read when their modification time or size changes (and files appearing or
vanishing are noticed), so tests and operators can edit a snapshot while it is being polled.
Filters are applied with ``agent.datatree`` (subtree and XPath), the same code the NETCONF
server uses.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from agent.api import NETCONF_BASE_NS
from agent.datatree import merge_into, subtree_filter, xpath_filter
from agent.sources.base import OnChange, ReadRequest, SourceError

_WRAPPERS = {"data", "config"}

# One hardened parser for snapshot files: no entities, no DTD loading, no network.
_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, remove_blank_text=True, huge_tree=True
)


def parse_filter_children(text: str) -> list[etree._Element]:
    """Parse the text of a subtree filter's children (one or more sibling elements)."""
    wrapped = f'<filter xmlns="{NETCONF_BASE_NS}">{text}</filter>'
    try:
        root = etree.fromstring(wrapped.encode(), _PARSER)
    except etree.XMLSyntaxError as exc:
        raise SourceError(f"bad subtree filter: {exc}") from exc
    return [child for child in root if isinstance(child.tag, str)]


def apply_request_filter(data: etree._Element, request: ReadRequest) -> etree._Element:
    """Apply the request's subtree or XPath filter to a ``<data>`` tree (new tree returned).

    An empty filter selects everything (the tree is returned as is).
    """
    if not request.filter.strip():
        return data
    if request.filter_type == "subtree":
        return subtree_filter(data, parse_filter_children(request.filter))
    try:
        return xpath_filter(data, request.filter, dict(request.namespaces))
    except SourceError:
        raise
    except Exception as exc:  # RpcError or lxml XPath errors: a bad policy filter
        raise SourceError(f"bad XPath filter {request.filter!r}: {exc}") from exc


def top_level_elements(root: etree._Element) -> list[etree._Element]:
    """The top-level data elements a snapshot file (or a reply document) holds."""
    tag = etree.QName(root)
    if tag.localname == "rpc-reply":
        for child in root:
            if isinstance(child.tag, str) and etree.QName(child).localname == "data":
                return [c for c in child if isinstance(c.tag, str)]
        return []
    if tag.localname in _WRAPPERS:
        return [c for c in root if isinstance(c.tag, str)]
    return [root]


def new_data() -> etree._Element:
    """An empty NETCONF ``<data>`` element."""
    return etree.Element(f"{{{NETCONF_BASE_NS}}}data", nsmap={None: NETCONF_BASE_NS})  # type: ignore[dict-item]


@dataclass
class _CachedFile:
    stamp: tuple[int, int]  # (mtime_ns, size)
    elements: list[etree._Element]


class _FolderReader:
    """The top-level elements of every ``*.xml`` file in one folder, re-read on change."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._cache: dict[str, _CachedFile] = {}

    def elements(self) -> list[etree._Element]:
        if not self.folder.is_dir():
            self._cache.clear()
            return []
        try:
            entries = sorted(
                (e for e in os.scandir(self.folder) if e.name.endswith(".xml") and e.is_file()),
                key=lambda e: e.name,
            )
        except OSError as exc:
            raise SourceError(f"cannot list {self.folder}: {exc}") from exc
        seen: set[str] = set()
        result: list[etree._Element] = []
        for entry in entries:
            seen.add(entry.name)
            try:
                st = entry.stat()
            except OSError as exc:
                raise SourceError(f"cannot read {entry.path}: {exc}") from exc
            stamp = (st.st_mtime_ns, st.st_size)
            cached = self._cache.get(entry.name)
            if cached is None or cached.stamp != stamp:
                cached = _CachedFile(stamp, self._parse(Path(entry.path)))
                self._cache[entry.name] = cached
            result.extend(cached.elements)
        for gone in set(self._cache) - seen:
            del self._cache[gone]
        return result

    @staticmethod
    def _parse(path: Path) -> list[etree._Element]:
        try:
            root = etree.parse(str(path), _PARSER).getroot()
        except (OSError, etree.XMLSyntaxError) as exc:
            raise SourceError(f"cannot parse snapshot file {path}: {exc}") from exc
        return top_level_elements(root)


class SnapshotSource:
    """Native model data from a snapshot directory (see the module docstring for the layout)."""

    def __init__(self, directory: Path, *, name: str = "snapshot") -> None:
        self.directory = Path(directory)
        self.name = name
        if not self.directory.is_dir():
            raise SourceError(f"snapshot directory {self.directory} does not exist")
        if (
            not (self.directory / "running").is_dir()
            and not (self.directory / "operational").is_dir()
        ):
            raise SourceError(
                f"snapshot directory {self.directory} has neither running/ nor operational/"
            )
        self._running = _FolderReader(self.directory / "running")
        self._operational = _FolderReader(self.directory / "operational")

    def operational_elements(self) -> list[etree._Element]:
        """The top-level elements of ``operational/`` alone (shared: do not modify)."""
        return self._operational.elements()

    def datastore(self, datastore: str) -> etree._Element:
        """The whole unfiltered ``<data>`` of ``running`` or ``operational`` (a new tree)."""
        data = new_data()
        for element in self._running.elements():
            data.append(copy.deepcopy(element))
        if datastore == "running":
            return data
        for element in self._operational.elements():
            existing = data.find(element.tag)
            if existing is None:
                data.append(copy.deepcopy(element))
            else:
                merge_into(existing, element, None)
        return data

    async def read(self, request: ReadRequest) -> etree._Element:
        """Read the snapshot's ``running`` or ``operational`` data through the filter."""
        return apply_request_filter(self.datastore(request.datastore), request)

    def watch(self, request: ReadRequest, callback: OnChange) -> bool:
        """Snapshots are polled (files are re-read when they change)."""
        return False

    async def close(self) -> None:
        """Nothing to release."""
