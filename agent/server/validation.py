"""Validation of configuration before it touches a datastore.

Two layers: ``validate_config`` checks every module's config against the schema (known
nodes, config true, leaf types, list keys present and unique, mandatory leaves,
min/max-elements), and ``PaBindingValidator`` additionally pushes our own module's config
through the generated pyangbind bindings (``bindings/product_analytics.py``), which check
types, ranges and enumerations exactly as pyang compiled them.  The binding object is built
once and reused: each check sets the leaves it needs and unsets them afterwards, so no
request builds a binding tree (pyangbind trees are expensive, RESEARCH B.10).
"""

from __future__ import annotations

import importlib
from collections.abc import Collection
from typing import Any

from lxml import etree

from agent.api import PA_NS, RpcError
from agent.schema import RpcSchema, Schema, SchemaNode, split_tag
from agent.server import errors
from agent.server.edit import DataPath, leaf_value, not_configurable


def validate_config(
    schema: Schema,
    root: etree._Element,
    *,
    readonly: Collection[tuple[str, str]] = (),
    binding: PaBindingValidator | None = None,
    configurable: Collection[str] | None = None,
    canonicalize: bool = False,
) -> None:
    """Raise RpcError for the first problem of the configuration under ``root`` (``<data>``
    or ``<config>``); top-level nodes in ``readonly`` are not checked.  With
    ``configurable``, configuration of a module namespace not in it is refused.  With
    ``canonicalize``, leaf values are rewritten in their canonical form (``007`` -> ``7``),
    as an edit stores them; only for a tree that is not a datastore's own."""
    _check_no_text(root, "config")
    tops: set[tuple[str, str]] = set()
    for top in root:
        if not isinstance(top.tag, str):
            continue
        namespace, name = split_tag(top.tag)
        if (namespace, name) in tops:
            raise errors.bad_element(
                name, f"<{name}> is given more than once", type="application", path=f"/{name}"
            )
        tops.add((namespace, name))
        if (namespace, name) in readonly:
            continue
        node = schema.top(namespace, name)
        if node is None:
            if schema.module_by_namespace(namespace) is None:
                raise errors.unknown_namespace(name, namespace, type="application")
            raise errors.unknown_element(name, type="application", path=f"/{name}")
        if configurable is not None and namespace not in configurable:
            raise not_configurable(node)
        _check_node(top, node, DataPath(), canonicalize)
        if binding is not None and namespace == PA_NS:
            binding.validate(top)


def _check_no_text(element: etree._Element, name: str, path: DataPath | None = None) -> None:
    """Interior nodes (the config itself, containers, list entries) hold elements only."""
    texts = [element.text, *(child.tail for child in element)]
    if any(text and text.strip() for text in texts):
        raise errors.bad_element(
            name,
            f"<{name}> holds text; only elements may appear in it",
            type="application",
            path=path.text if path is not None else None,
            path_ns=path.prefixes if path is not None else None,
        )


def _check_node(
    element: etree._Element, node: SchemaNode, parent_path: DataPath, canonicalize: bool = False
) -> None:
    if node.kind == "list":
        predicates = []
        for key in node.keys:
            key_element = element.find(f"{{{node.namespace}}}{key}")
            if key_element is None:
                here = parent_path.child(node)
                raise errors.missing_element(
                    key,
                    f"list entry {node.name} lacks its key {key}",
                    type="application",
                    path=here.text,
                    path_ns=here.prefixes,
                )
            predicates.append((key, key_element.text or ""))
        path = parent_path.child(node, predicates)
    else:
        path = parent_path.child(node)
    for attribute in element.attrib:
        # datastore content carries no attributes (edit attributes are consumed by the edit;
        # inline copy-config content goes through edit.settle_default_attributes first)
        name = attribute if isinstance(attribute, str) else attribute.decode()
        raise errors.unknown_attribute(split_tag(name)[1], node.name, type="application")
    if not node.config:
        raise errors.invalid_value(
            f"{node.name} is config false", path=path.text, path_ns=path.prefixes
        )
    if node.kind in ("leaf", "leaf-list"):
        value = leaf_value(element, node, path)  # raises for child elements or a bad value
        if canonicalize and element.text != value:
            element.text = value
        return
    if node.kind in ("anydata", "anyxml"):
        return
    _check_no_text(element, node.name, path)
    seen: dict[str, list[etree._Element]] = {}
    for child in element:
        if not isinstance(child.tag, str):
            continue
        namespace, name = split_tag(child.tag)
        child_node = node.child(namespace, name)
        if child_node is None:
            bad = path.unknown(child)
            raise errors.unknown_element(
                name,
                f"unknown element <{name}> in {node.name}",
                type="application",
                path=bad.text,
                path_ns=bad.prefixes,
            )
        if child_node.kind not in ("list", "leaf-list") and child_node.qname in seen:
            again = path.child(child_node)
            raise errors.bad_element(
                name,
                f"{child_node.kind} {name} is given more than once in {node.name}",
                type="application",
                path=again.text,
                path_ns=again.prefixes,
            )
        seen.setdefault(child_node.qname, []).append(child)
        _check_node(child, child_node, path, canonicalize)
    for child_node in node.children():
        present = seen.get(child_node.qname, [])
        if (
            child_node.kind == "leaf"
            and child_node.mandatory
            and child_node.config
            and not present
            and child_node.choice is None
        ):
            here = path.child(child_node)
            raise errors.missing_element(
                child_node.name,
                f"mandatory leaf {child_node.name} is missing",
                type="application",
                path=here.text,
                path_ns=here.prefixes,
            )
        if child_node.kind in ("list", "leaf-list") and child_node.config:
            _check_entries(child_node, present, path)


def _check_entries(node: SchemaNode, entries: list[etree._Element], path: DataPath) -> None:
    here = path.child(node)
    if len(entries) < node.min_elements:
        raise RpcError(
            "operation-failed",
            f"{node.name} needs at least {node.min_elements} entries",
            app_tag="too-few-elements",
            path=here.text,
            path_ns=here.prefixes,
        )
    if node.max_elements is not None and len(entries) > node.max_elements:
        raise RpcError(
            "operation-failed",
            f"{node.name} allows at most {node.max_elements} entries",
            app_tag="too-many-elements",
            path=here.text,
            path_ns=here.prefixes,
        )
    seen: set[tuple[str, ...]] = set()
    for entry in entries:
        if node.kind == "list":
            ident = tuple((entry.findtext(f"{{{node.namespace}}}{key}") or "") for key in node.keys)
        else:
            ident = (entry.text or "",)
        if ident in seen:
            raise errors.invalid_value(
                f"duplicate {node.kind} entry {node.name} {list(ident)}",
                path=here.text,
                path_ns=here.prefixes,
            )
        seen.add(ident)


def validate_rpc_input(rpc: RpcSchema, op: etree._Element) -> None:
    """Check the parameters of an RPC against its input statement."""
    node = rpc.input
    for child in op:
        if not isinstance(child.tag, str):
            continue
        namespace, name = split_tag(child.tag)
        child_node = node.child(namespace, name) if node is not None else None
        if child_node is None:
            raise errors.unknown_element(
                name, f"<{rpc.name}> has no parameter <{name}>", type="protocol"
            )
        _check_input(child, child_node, DataPath())
    if node is None:
        return
    for child_node in node.children():
        if (
            child_node.kind == "leaf"
            and child_node.mandatory
            and child_node.choice is None
            and op.find(child_node.qname) is None
        ):
            raise errors.missing_element(
                child_node.name,
                f"<{rpc.name}> needs the parameter <{child_node.name}>",
                type="protocol",
            )


def _check_input(element: etree._Element, node: SchemaNode, path: DataPath) -> None:
    here = path.child(node)
    if node.kind in ("leaf", "leaf-list"):
        text = element.text or ""
        problem = node.check_value(text, element.nsmap)
        if problem is not None:
            raise errors.invalid_value(
                f"invalid value {text!r} for {node.name}: {problem}",
                type="protocol",
                path=here.text,
                path_ns=here.prefixes,
            )
        return
    for child in element:
        if not isinstance(child.tag, str):
            continue
        namespace, name = split_tag(child.tag)
        child_node = node.child(namespace, name)
        if child_node is None:
            raise errors.unknown_element(name, type="protocol")
        _check_input(child, child_node, here)


class PaBindingValidator:
    """Checks ``/pa:product-analytics`` config through the pyangbind bindings.

    One binding object is built at start and reused for every check.
    """

    def __init__(self) -> None:
        # imported by name so that mypy does not type-check the generated (untyped) code
        module = importlib.import_module("bindings.product_analytics")
        self._root: Any = module.product_analytics()

    def validate(self, top: etree._Element) -> None:
        """Raise invalid-value (error-path naming the node) if pyangbind refuses a value."""
        undo: list[Any] = []
        try:
            self._walk(self._root, top, DataPath(), undo)
        finally:
            for action in reversed(undo):
                action()

    def _walk(
        self, container: Any, element: etree._Element, path: DataPath, undo: list[Any]
    ) -> None:
        _, name = split_tag(element.tag)
        attribute = _safe_name(name)
        here = DataPath(f"{path.text}/pa:{name}", {"pa": PA_NS})
        if not hasattr(container, f"_set_{attribute}"):
            raise errors.unknown_element(
                name, type="application", path=here.text, path_ns=here.prefixes
            )
        child = getattr(container, attribute)
        if getattr(child, "_is_leaf", False):
            text = element.text or ""
            try:
                setattr(container, attribute, text)
            except (ValueError, TypeError) as exc:
                detail = exc.args[0] if exc.args else {}
                message = detail.get("error-string") if isinstance(detail, dict) else str(detail)
                raise errors.invalid_value(
                    f"invalid value {text!r} for {name}: {message or 'rejected by the binding'}",
                    path=here.text,
                    path_ns=here.prefixes,
                ) from None
            undo.append(getattr(container, f"_unset_{attribute}"))
            return
        if getattr(child, "_keyval", False) and hasattr(child, "add"):
            keys = str(child._keyval).split()
            key_values = [element.findtext(f"{{{PA_NS}}}{k}") or "" for k in keys]
            key = " ".join(key_values)
            try:
                entry = child.add(key)
            except (ValueError, KeyError) as exc:
                raise errors.invalid_value(
                    f"invalid list entry {key!r} for {name}: {exc}",
                    path=here.text,
                    path_ns=here.prefixes,
                ) from None
            undo.append(lambda: child.delete(key))
            for sub in element:
                if isinstance(sub.tag, str) and split_tag(sub.tag)[1] not in keys:
                    self._walk(entry, sub, here, undo)
            return
        for sub in element:
            if isinstance(sub.tag, str):
                self._walk(child, sub, here, undo)


def _safe_name(name: str) -> str:
    # the generator's mapping of YANG names to Python attributes
    from pyangbind.lib.yangtypes import safe_name

    result: str = safe_name(name)
    return result
