"""The edit-config tree algorithm (RFC 6241 §7.2) on plain lxml data trees.

``apply_edit`` changes a *copy* of a datastore in place following the ``operation``
attributes (merge, replace, create, delete, remove) and the default operation (merge,
replace, none).  It needs the schema to match list entries by key and leaf-list entries by
value and to check leaf values; datastore-wide rules (mandatory nodes, pyangbind typing of
our module) are checked afterwards by ``validation``.  The ``insert`` attribute of
ordered-by-user lists is accepted but not supported: new entries are appended.  A leaf tagged
``wd:default="true"`` (RFC 6243 §4.5.2) is set to its default, i.e. removed; any other
attribute on a data node is ``unknown-attribute``.
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Mapping
from typing import Any

from lxml import etree

from agent.api import NETCONF_BASE_NS, RpcError
from agent.schema import Schema, SchemaNode, split_tag
from agent.server import errors

OPERATION_ATTR = f"{{{NETCONF_BASE_NS}}}operation"
# RFC 6243 §4.5.2: with report-all-tagged, edits may mark a leaf as "set to its default"
DEFAULT_ATTR = "{urn:ietf:params:xml:ns:netconf:default:1.0}default"
YANG_NS = "urn:ietf:params:xml:ns:yang:1"
# RFC 7950 §7.8.6/§7.7.9 insert, key and value of ordered-by-user lists and leaf-lists
YANG_ATTRS = frozenset(f"{{{YANG_NS}}}{name}" for name in ("insert", "key", "value"))
KNOWN_ATTRS = frozenset({OPERATION_ATTR, DEFAULT_ATTR}) | YANG_ATTRS
OPERATIONS = frozenset({"merge", "replace", "create", "delete", "remove"})
DEFAULT_OPERATIONS = frozenset({"merge", "replace", "none"})


class DataPath:
    """Builds error-path strings (``/pa:product-analytics/pa:transport``) and their prefixes."""

    def __init__(self, text: str = "", prefixes: dict[str, str] | None = None) -> None:
        self.text = text
        self.prefixes = prefixes if prefixes is not None else {}

    def child(self, node: SchemaNode, predicates: list[tuple[str, str]] | None = None) -> DataPath:
        """The path of ``node`` below this one; predicates are (key name, value)."""
        prefixes = dict(self.prefixes)
        prefixes[node.prefix] = node.namespace
        step = f"/{node.prefix}:{node.name}"
        for key, value in predicates or ():
            quote = "'" if "'" not in value else '"'
            step += f"[{node.prefix}:{key}={quote}{value}{quote}]"
        return DataPath(self.text + step, prefixes)

    def unknown(self, element: etree._Element) -> DataPath:
        """The path of an element the schema does not know (no prefix available: localname)."""
        namespace, name = split_tag(element.tag)
        prefixes = dict(self.prefixes)
        prefixes.setdefault("x", namespace)
        return DataPath(f"{self.text}/x:{name}", prefixes)


def not_configurable(node: SchemaNode) -> RpcError:
    """The error for configuring a module that this agent serves read-only."""
    path = DataPath().child(node)
    return errors.operation_not_supported(
        f"{node.module} is served read-only by this agent (operational state of the "
        "device); its configuration cannot be changed here",
        type="application",
        path=path.text,
        path_ns=path.prefixes,
    )


def new_element(tag: str, parent: etree._Element | None) -> etree._Element:
    """A new element; it declares its namespace as the default one when it differs from its
    parent's, so replies read ``<storage>`` rather than ``<ns0:storage>``."""
    namespace, _ = split_tag(tag)
    if parent is not None and split_tag(parent.tag)[0] == namespace:
        return etree.SubElement(parent, tag)
    element = etree.Element(tag, nsmap={None: namespace})  # type: ignore[dict-item]
    if parent is not None:
        parent.append(element)
    return element


def leaf_value(edit: etree._Element, node: SchemaNode, path: DataPath) -> str:
    """The checked, canonical value of a leaf or leaf-list element of an edit."""
    if any(isinstance(child.tag, str) for child in edit):
        raise errors.bad_element(
            node.name,
            f"{node.kind} {node.name} cannot have child elements",
            type="application",
            path=path.text,
            path_ns=path.prefixes,
        )
    text = edit.text or ""
    problem = node.check_value(text, edit.nsmap)
    if problem is not None:
        raise errors.invalid_value(
            f"invalid value {text!r} for {node.name}: {problem}",
            path=path.text,
            path_ns=path.prefixes,
        )
    return node.type.canonical(text) if node.type is not None else text


def check_attributes(edit: etree._Element, node: SchemaNode) -> None:
    """Refuse attributes an edit's data node cannot carry (``unknown-attribute``): only the
    base ``operation``, the with-defaults ``default`` and YANG's insert/key/value are known.
    Namespace declarations are not attributes in lxml, so they never show up here."""
    for key in edit.attrib:
        name = key if isinstance(key, str) else key.decode()
        if name not in KNOWN_ATTRS:
            namespace, local = split_tag(name)
            error = errors.unknown_attribute(local, node.name, type="application")
            if namespace:
                error.message += f" (namespace {namespace})"
            raise error


def default_flag(edit: etree._Element, node: SchemaNode, path: DataPath) -> bool:
    """Whether an edit's ``wd:default`` attribute (an xsd:boolean) says "set to default".

    RFC 6243 §4.5.2: the value given must then equal the schema default, else
    ``invalid-value``.  Only leaves have a single schema default to compare with.
    """
    raw = edit.get(DEFAULT_ATTR)
    if raw is None:
        return False
    flag = raw.strip()
    if flag not in ("true", "1", "false", "0"):
        raise errors.bad_attribute(
            "default", node.name, f"default attribute {raw!r} is not a boolean", type="application"
        )
    if flag in ("false", "0"):
        return False
    if node.kind != "leaf":
        raise errors.bad_attribute(
            "default",
            node.name,
            f"the default attribute applies to leaves only, not to {node.kind} {node.name}",
            type="application",
        )
    if not _equals_default(edit, node):
        default = "no default" if node.default is None else f"default {node.default!r}"
        raise errors.invalid_value(
            f"{node.name} is tagged default but {edit.text or ''!r} is not its schema "
            f"default ({default})",
            path=path.text,
            path_ns=path.prefixes,
        )
    return True


def _equals_default(leaf: etree._Element, node: SchemaNode) -> bool:
    if node.default is None or node.type is None:
        return False
    text = (leaf.text or "").strip()
    if node.type.base == "identityref":
        return _qualified(text, leaf.nsmap) == _qualified(node.default, node.default_nsmap)
    if node.check_value(text, leaf.nsmap) is not None:
        return False
    return node.type.canonical(text) == node.default


def _qualified(text: str, nsmap: Mapping[Any, str]) -> tuple[str | None, str]:
    """An identityref value as (namespace, name); no prefix means the default namespace."""
    prefix, _, name = text.strip().rpartition(":")
    return nsmap.get(prefix or None), name


def settle_default_attributes(schema: Schema, root: etree._Element) -> None:
    """Resolve ``wd:default`` in a whole configuration given inline (copy-config, validate):
    RFC 6243 §4.5.2 makes a leaf tagged ``default="true"`` (with its schema default as
    value) a leaf set to its default, so it is removed; ``"false"`` is dropped.  Other
    attributes mean nothing in a complete configuration and are ``unknown-attribute``.
    Elements the schema does not know are left for ``validate_config`` to report."""
    for top in root:
        if isinstance(top.tag, str):
            node = schema.top(*split_tag(top.tag))
            if node is not None:
                _settle_defaults(top, node, DataPath())


def _settle_defaults(element: etree._Element, node: SchemaNode, parent_path: DataPath) -> None:
    path = parent_path.child(node)
    for key in element.attrib:
        name = key if isinstance(key, str) else key.decode()
        if name != DEFAULT_ATTR:
            _, local = split_tag(name)
            raise errors.unknown_attribute(local, node.name, type="application")
    if default_flag(element, node, path):
        parent = element.getparent()
        if parent is not None:
            parent.remove(element)
        return
    if DEFAULT_ATTR in element.attrib:
        del element.attrib[DEFAULT_ATTR]
    if node.kind in ("container", "list"):
        for child in list(element):
            if isinstance(child.tag, str):
                child_node = node.child(*split_tag(child.tag))
                if child_node is not None:
                    _settle_defaults(child, child_node, path)


def _carries_operation(edit: etree._Element) -> bool:
    """Whether any element below ``edit`` has an ``operation`` attribute."""
    return any(OPERATION_ATTR in element.attrib for element in edit.iterdescendants())


def set_leaf_text(element: etree._Element, value: str, source: etree._Element) -> etree._Element:
    """Give ``element`` the text ``value``; an identityref prefix keeps its declaration by
    re-creating the element with the prefix mapping of ``source``."""
    prefix = value.split(":", 1)[0] if ":" in value else None
    if prefix and prefix in source.nsmap and element.nsmap.get(prefix) != source.nsmap[prefix]:
        namespace, _ = split_tag(element.tag)
        nsmap: dict[str | None, str] = {None: namespace, prefix: source.nsmap[prefix]}
        replacement = etree.Element(element.tag, nsmap=nsmap)  # type: ignore[arg-type]
        replacement.text = value
        parent = element.getparent()
        if parent is not None:
            parent.replace(element, replacement)
        return replacement
    element.text = value
    return element


class Editor:
    """One edit-config run over a datastore copy."""

    def __init__(
        self,
        schema: Schema,
        *,
        continue_on_error: bool = False,
        readonly: Collection[tuple[str, str]] = (),
        configurable: Collection[str] | None = None,
    ) -> None:
        self.schema = schema
        self.continue_on_error = continue_on_error
        self.readonly = readonly
        self.configurable = configurable
        self.errors: list[RpcError] = []

    def fail(self, error: RpcError) -> None:
        if not self.continue_on_error:
            raise error
        self.errors.append(error)

    def apply(self, target: etree._Element, config: etree._Element, default_operation: str) -> None:
        """Apply the children of ``config`` (the edit's ``<config>``) to ``target``."""
        self._children(target, config, None, default_operation, DataPath())
        for top in list(target):
            node = self.schema.top(*split_tag(top.tag)) if isinstance(top.tag, str) else None
            if node is not None:
                prune_empty(top, node)

    def _children(
        self,
        target: etree._Element,
        edit: etree._Element,
        parent: SchemaNode | None,
        operation: str,
        path: DataPath,
    ) -> None:
        for child in edit:
            if not isinstance(child.tag, str):
                continue
            try:
                self._child(target, child, parent, operation, path)
            except RpcError as error:
                self.fail(error)

    def _schema_of(
        self, child: etree._Element, parent: SchemaNode | None, path: DataPath
    ) -> SchemaNode:
        namespace, name = split_tag(child.tag)
        if parent is None and (namespace, name) in self.readonly:
            raise errors.access_denied(f"{name} ({namespace}) is read-only")
        node = self.schema.top(namespace, name) if parent is None else parent.child(namespace, name)
        if node is None:
            if not namespace or self.schema.module_by_namespace(namespace) is None:
                raise errors.unknown_namespace(name, namespace, type="application")
            bad = path.unknown(child)
            raise errors.unknown_element(
                name,
                f"unknown element <{name}> in {namespace}",
                type="application",
                path=bad.text,
                path_ns=bad.prefixes,
            )
        if parent is None and self.configurable is not None and namespace not in self.configurable:
            raise not_configurable(node)
        if not node.config:
            here = path.child(node)
            raise errors.invalid_value(
                f"{node.name} is config false and cannot be edited",
                path=here.text,
                path_ns=here.prefixes,
            )
        return node

    def _child(
        self,
        target: etree._Element,
        edit: etree._Element,
        parent: SchemaNode | None,
        inherited: str,
        parent_path: DataPath,
    ) -> None:
        node = self._schema_of(edit, parent, parent_path)
        check_attributes(edit, node)
        attribute = edit.get(OPERATION_ATTR)
        if attribute is not None and attribute not in OPERATIONS:
            raise errors.bad_attribute(
                "operation", node.name, f"bad operation {attribute!r}", type="protocol"
            )
        operation = attribute or inherited
        existing, path, keys = self._existing(target, edit, node, parent_path)
        if default_flag(edit, node, path):
            self._set_to_default(target, existing, node, operation, path)
            return

        if operation in ("delete", "remove"):
            if existing is None:
                if operation == "delete":
                    raise errors.data_missing(
                        path.text, path.prefixes, f"{node.name} does not exist, cannot delete"
                    )
                return
            target.remove(existing)
            return
        if operation == "create" and existing is not None:
            raise errors.data_exists(
                path.text, path.prefixes, f"{node.name} already exists, cannot create"
            )

        if operation == "none" and existing is None and not _carries_operation(edit):
            # RFC 6241 §7.2: with default-operation none, data with no corresponding node in
            # the datastore (and no operation below that would create it) is data-missing
            raise errors.data_missing(
                path.text,
                path.prefixes,
                f"{node.name} does not exist and default-operation none does not create it",
            )
        if node.kind in ("leaf", "leaf-list"):
            value = leaf_value(edit, node, path)
            if operation == "none":
                return
            if existing is None:
                existing = new_element(node.qname, target)
            set_leaf_text(existing, value, edit)
            return
        if node.kind in ("anydata", "anyxml"):
            if operation == "none":
                return
            replacement = copy.deepcopy(edit)
            for element in replacement.iter():
                if OPERATION_ATTR in element.attrib:
                    del element.attrib[OPERATION_ATTR]
            if existing is not None:
                target.replace(existing, replacement)
            else:
                target.append(replacement)
            return

        # container or list entry
        if operation == "replace":
            fresh = new_element(node.qname, None)
            if existing is not None:
                target.replace(existing, fresh)
            else:
                target.append(fresh)
            self._add_keys(fresh, keys)
            self._children(fresh, edit, node, "replace", path)
            return
        tentative = False
        if existing is None:
            existing = new_element(node.qname, target)
            self._add_keys(existing, keys)
            tentative = operation == "none"
        self._children(existing, edit, node, "merge" if operation == "create" else operation, path)
        if tentative and len(existing) <= len(keys):
            target.remove(existing)  # default-operation none created nothing below it

    @staticmethod
    def _set_to_default(
        target: etree._Element,
        existing: etree._Element | None,
        node: SchemaNode,
        operation: str,
        path: DataPath,
    ) -> None:
        """A leaf tagged ``wd:default="true"`` (RFC 6243 §4.5.2, with errata 4688): it is set
        to its default, i.e. not explicitly set, so it is removed from the datastore;
        create still needs it absent and delete present."""
        if operation == "create" and existing is not None:
            raise errors.data_exists(
                path.text, path.prefixes, f"{node.name} already exists, cannot create"
            )
        if operation == "delete" and existing is None:
            raise errors.data_missing(
                path.text, path.prefixes, f"{node.name} does not exist, cannot delete"
            )
        if operation == "none":
            return  # the default is in use whether or not the leaf is stored
        if existing is not None:
            target.remove(existing)

    def _existing(
        self, target: etree._Element, edit: etree._Element, node: SchemaNode, parent_path: DataPath
    ) -> tuple[etree._Element | None, DataPath, list[tuple[SchemaNode, str]]]:
        """The matching node of the datastore, the data path, and the list keys."""
        if node.kind == "list":
            keys: list[tuple[SchemaNode, str]] = []
            for key in node.keys:
                key_node = node.child(node.namespace, key)
                key_element = edit.find(f"{{{node.namespace}}}{key}")
                if key_node is None or key_element is None:
                    here = parent_path.child(node)
                    raise errors.missing_element(
                        key,
                        f"list entry {node.name} lacks its key {key}",
                        type="application",
                        path=here.text,
                        path_ns=here.prefixes,
                    )
                keys.append((key_node, leaf_value(key_element, key_node, parent_path.child(node))))
            path = parent_path.child(node, [(k.name, v) for k, v in keys])
            for entry in target.iterchildren(node.qname):
                if all(_key_text(entry, k) == v for k, v in keys):
                    return entry, path, keys
            return None, path, keys
        if node.kind == "leaf-list":
            path = parent_path.child(node)
            value = leaf_value(edit, node, path)
            path = DataPath(f"{path.text}[.='{value}']", path.prefixes)
            for entry in target.iterchildren(node.qname):
                if (entry.text or "") == value:
                    return entry, path, []
            return None, path, []
        return target.find(node.qname), parent_path.child(node), []

    @staticmethod
    def _add_keys(entry: etree._Element, keys: list[tuple[SchemaNode, str]]) -> None:
        for key_node, value in keys:
            etree.SubElement(entry, key_node.qname).text = value


def _key_text(entry: etree._Element, key: SchemaNode) -> str | None:
    element = entry.find(key.qname)
    return None if element is None else (element.text or "")


def prune_empty(element: etree._Element, node: SchemaNode) -> bool:
    """Remove empty non-presence containers below (and including) ``element``.

    Returns True when ``element`` itself was removed.
    """
    for child in list(element):
        if not isinstance(child.tag, str):
            continue
        child_node = node.child(*split_tag(child.tag))
        if child_node is not None and child_node.kind in ("container", "list"):
            prune_empty(child, child_node)
    if (
        node.kind == "container"
        and not node.presence
        and not any(isinstance(child.tag, str) for child in element)
    ):
        parent = element.getparent()
        if parent is not None:
            parent.remove(element)
            return True
    return False
