"""The edit-config tree algorithm (RFC 6241 §7.2) on plain lxml data trees.

``apply_edit`` changes a *copy* of a datastore in place following the ``operation``
attributes (merge, replace, create, delete, remove) and the default operation (merge,
replace, none).  It needs the schema to match list entries by key and leaf-list entries by
value and to check leaf values; datastore-wide rules (mandatory nodes, pyangbind typing of
our module) are checked afterwards by ``validation``.  The ``insert`` attribute of
ordered-by-user lists is not supported: new entries are appended.
"""

from __future__ import annotations

import copy
from collections.abc import Collection

from lxml import etree

from agent.api import NETCONF_BASE_NS, RpcError
from agent.schema import Schema, SchemaNode, split_tag
from agent.server import errors

OPERATION_ATTR = f"{{{NETCONF_BASE_NS}}}operation"
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
        attribute = edit.get(OPERATION_ATTR)
        if attribute is not None and attribute not in OPERATIONS:
            raise errors.bad_attribute(
                "operation", node.name, f"bad operation {attribute!r}", type="protocol"
            )
        operation = attribute or inherited
        existing, path, keys = self._existing(target, edit, node, parent_path)

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
