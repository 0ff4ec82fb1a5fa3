"""The configuration datastores (running, candidate, startup) and their global locks.

A datastore is a plain lxml tree: a ``<data>`` element (base namespace) whose children are the
top-level nodes of each module.  Edits are made on a copy and swapped in whole, so a failed
edit never leaves a half-changed datastore.  ``startup`` is also a file in the state
directory, written atomically (temp file, fsync, rename), and the agent boots from it once
the server has validated it like an edit of running (an invalid one is moved aside).
"""

from __future__ import annotations

import copy
import itertools
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from agent.api import NETCONF_BASE_NS
from agent.fileutil import write_atomically
from agent.server.errors import invalid_value

log = logging.getLogger(__name__)

DATA_TAG = f"{{{NETCONF_BASE_NS}}}data"
DATASTORE_NAMES = ("running", "candidate", "startup")
STARTUP_FILE = "startup.xml"
_generations = itertools.count(1)


def empty_data() -> etree._Element:
    """A new, empty ``<data>`` element."""
    return etree.Element(DATA_TAG, nsmap={None: NETCONF_BASE_NS})  # type: ignore[dict-item]


@dataclass
class Lock:
    """A global lock (RFC 6241 §7.5) held by one session."""

    session_id: int
    locked_at: float  # time.time()


class Datastore:
    """One configuration datastore and its lock."""

    def __init__(self, name: str, root: etree._Element | None = None) -> None:
        self.name = name
        self.root = root if root is not None else empty_data()
        self.lock: Lock | None = None
        # changes with every replace: cached reads of this datastore are keyed by it
        self.generation = next(_generations)

    def copy(self) -> etree._Element:
        """A deep copy of the content, to edit and then ``replace``."""
        return copy.deepcopy(self.root)

    def replace(self, root: etree._Element) -> None:
        """Swap in new content (already validated).  The content is never changed in place
        once it is a datastore's: every change goes through here."""
        self.root = root
        self.generation = next(_generations)

    def top(self, namespace: str, name: str) -> etree._Element | None:
        """The top-level node ``{namespace}name``, if present."""
        return self.root.find(f"{{{namespace}}}{name}")


class Datastores:
    """running, candidate and startup of one server, plus the startup file."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.startup_path = state_dir / STARTUP_FILE
        startup_root = self._read_startup()
        self.startup = Datastore("startup", startup_root)
        self.running = Datastore("running", copy.deepcopy(startup_root))
        self.candidate = Datastore("candidate", copy.deepcopy(startup_root))
        # the candidate holds changes not yet committed (RFC 6241 §8.3.5.1: no lock then)
        self.candidate_dirty = False

    def get(self, name: str) -> Datastore:
        """The datastore called ``name`` (running, candidate or startup)."""
        if name == "running":
            return self.running
        if name == "candidate":
            return self.candidate
        if name == "startup":
            return self.startup
        raise invalid_value(f"unknown datastore {name!r}", type="protocol")

    def all(self) -> Iterable[Datastore]:
        """Every datastore, in the order monitoring lists them."""
        return (self.running, self.candidate, self.startup)

    def _read_startup(self) -> etree._Element:
        try:
            data = self.startup_path.read_bytes()
        except FileNotFoundError:
            return empty_data()
        parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=True)
        try:
            root = etree.fromstring(data, parser)
        except etree.XMLSyntaxError as exc:
            # a damaged startup must not prevent the agent from booting: keep it aside
            broken = self.startup_path.with_suffix(f".broken-{int(time.time())}")
            self.startup_path.rename(broken)
            log.error(
                "startup configuration %s is not XML (%s); moved to %s",
                self.startup_path,
                exc,
                broken,
            )
            return empty_data()
        if root.tag != DATA_TAG:
            log.error("startup configuration %s has root %s; ignored", self.startup_path, root.tag)
            return empty_data()
        return root

    def reject_startup(self, problem: str) -> None:
        """Startup (already loaded) is not a valid configuration: keep the file aside as
        ``startup.xml.invalid-<time>`` and boot with empty startup, running and candidate, so
        a bad file is never served as running and is not lost either."""
        rejected = self.startup_path.with_name(f"{STARTUP_FILE}.invalid-{int(time.time())}")
        try:
            self.startup_path.rename(rejected)
        except FileNotFoundError:
            rejected = self.startup_path
        log.error(
            "startup configuration %s is not valid (%s); moved to %s, starting with an empty "
            "configuration",
            self.startup_path,
            problem,
            rejected,
        )
        for store in self.all():
            store.replace(empty_data())
        self.candidate_dirty = False

    def write_startup(self, root: etree._Element) -> None:
        """Replace startup with ``root`` and write the file atomically."""
        data = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
        write_atomically(self.startup_path, data, mode=0o600)
        self.startup.replace(root)

    def delete_startup(self) -> None:
        """Empty startup (delete-config)."""
        self.write_startup(empty_data())
