"""RFC 8525 YANG library: ``/yang-library`` and the deprecated ``/modules-state``.

Both trees describe the one module set the server implements, built once from the schema
(the set never changes while the server runs).  ``content-id`` and ``module-set-id`` are
the same hash of that set, also announced in the yang-library capability.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Sequence
from typing import cast

from lxml import etree

from agent.api import Registry, StateRequest
from agent.schema import ModuleInfo, Schema

YANGLIB_NS = "urn:ietf:params:xml:ns:yang:ietf-yang-library"
DS_NS = "urn:ietf:params:xml:ns:yang:ietf-datastores"
YANGLIB_REVISION = "2019-01-04"
MODULE_SET = "complete"
SCHEMA_NAME = "complete"
DATASTORES: tuple[str, ...] = ("running", "candidate", "startup", "operational")
_Y = f"{{{YANGLIB_NS}}}"


def content_id(schema: Schema) -> str:
    """A short, stable hash of the module set (names, revisions, features, sources)."""
    return hashlib.sha256(schema.fingerprint().encode()).hexdigest()[:16]


def _nsmap(**extra: str) -> dict[str, str]:
    # lxml takes None as the default-namespace key; its stubs say str only
    return cast(dict[str, str], {None: YANGLIB_NS, **extra})


def _leaf(parent: etree._Element, name: str, text: str) -> etree._Element:
    element = etree.SubElement(parent, _Y + name)
    element.text = text
    return element


def _submodules(schema: Schema, parent: etree._Element, info: ModuleInfo) -> None:
    for name, revision in info.submodules:
        entry = etree.SubElement(parent, _Y + "submodule")
        _leaf(entry, "name", name)
        if revision:
            _leaf(entry, "revision", revision)


def build_yang_library(schema: Schema, datastores: Sequence[str] = DATASTORES) -> etree._Element:
    """The ``/yang-library`` tree of RFC 8525 for ``schema``."""
    root = etree.Element(_Y + "yang-library", nsmap=_nsmap(ds=DS_NS))
    module_set = etree.SubElement(root, _Y + "module-set")
    _leaf(module_set, "name", MODULE_SET)
    for info in schema.modules():
        if info.conformance != "implement":
            continue
        entry = etree.SubElement(module_set, _Y + "module")
        _leaf(entry, "name", info.name)
        if info.revision:
            _leaf(entry, "revision", info.revision)
        _leaf(entry, "namespace", info.namespace)
        _submodules(schema, entry, info)
        for feature in info.features:
            _leaf(entry, "feature", feature)
        for deviation, _ in info.deviations:
            _leaf(entry, "deviation", deviation)
    for info in schema.modules():
        if info.conformance != "import":
            continue
        entry = etree.SubElement(module_set, _Y + "import-only-module")
        _leaf(entry, "name", info.name)
        _leaf(entry, "revision", info.revision or "")
        _leaf(entry, "namespace", info.namespace)
        _submodules(schema, entry, info)
    schema_entry = etree.SubElement(root, _Y + "schema")
    _leaf(schema_entry, "name", SCHEMA_NAME)
    _leaf(schema_entry, "module-set", MODULE_SET)
    for name in datastores:
        entry = etree.SubElement(root, _Y + "datastore")
        _leaf(entry, "name", f"ds:{name}")
        _leaf(entry, "schema", SCHEMA_NAME)
    _leaf(root, "content-id", content_id(schema))
    return root


def build_modules_state(schema: Schema) -> etree._Element:
    """The deprecated ``/modules-state`` tree (RFC 7895, kept in RFC 8525)."""
    root = etree.Element(_Y + "modules-state", nsmap=_nsmap())
    _leaf(root, "module-set-id", content_id(schema))
    for info in schema.modules():
        entry = etree.SubElement(root, _Y + "module")
        _leaf(entry, "name", info.name)
        _leaf(entry, "revision", info.revision or "")
        _leaf(entry, "namespace", info.namespace)
        for feature in info.features:
            _leaf(entry, "feature", feature)
        for deviation, revision in info.deviations:
            dev = etree.SubElement(entry, _Y + "deviation")
            _leaf(dev, "name", deviation)
            _leaf(dev, "revision", revision or "")
        _leaf(entry, "conformance-type", info.conformance)
        for name, revision in info.submodules:
            sub = etree.SubElement(entry, _Y + "submodule")
            _leaf(sub, "name", name)
            _leaf(sub, "revision", revision or "")
    return root


class YangLibraryProvider:
    """StateProvider of ``/yanglib:yang-library``."""

    namespace = YANGLIB_NS
    name = "yang-library"

    def __init__(self, schema: Schema, datastores: Sequence[str] = DATASTORES) -> None:
        self._tree = build_yang_library(schema, datastores)

    def get_state(self, request: StateRequest) -> etree._Element | None:
        """A copy of the prebuilt tree (the server may modify what it gets)."""
        return copy.deepcopy(self._tree)


class ModulesStateProvider:
    """StateProvider of the deprecated ``/yanglib:modules-state``."""

    namespace = YANGLIB_NS
    name = "modules-state"

    def __init__(self, schema: Schema) -> None:
        self._tree = build_modules_state(schema)

    def get_state(self, request: StateRequest) -> etree._Element | None:
        """A copy of the prebuilt tree."""
        return copy.deepcopy(self._tree)


def register(registry: Registry, schema: Schema) -> None:
    """Add the ``/yang-library`` and ``/modules-state`` providers."""
    registry.add_state_provider(YangLibraryProvider(schema))
    registry.add_state_provider(ModulesStateProvider(schema))
