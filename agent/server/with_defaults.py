"""RFC 6243 with-defaults: basic mode ``explicit``; ``report-all``, ``report-all-tagged`` and
``trim`` on request.

The datastores hold exactly what was set (that is what ``explicit`` means), so the basic
mode needs no work.  The other modes rewrite a reply's data tree:

- ``report-all`` adds every default leaf (and leaf-list) whose parent exists, creating
  non-presence configuration containers on the way when they end up holding a default
  (state containers are never invented: state defaults are added only inside state
  nodes a provider returned);
- ``report-all-tagged`` does the same and marks every leaf that holds its default (added or
  set explicitly) with ``wd:default="true"``;
- ``trim`` removes every leaf whose value equals its default, and containers left empty.

Apply it to the unfiltered data, then filter: a filter that selects a default leaf must
see it.  ``when`` conditions are not evaluated; a default inside a choice is added only
when its case is the active one or, with no case active, the choice's default case.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, cast

from lxml import etree

from agent.api import RpcError
from agent.datatree.copying import attributes, in_scope, rebuild
from agent.schema import Schema, SchemaNode, split_tag

WD_NS = "urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults"
WD_ATTR_NS = "urn:ietf:params:xml:ns:netconf:default:1.0"
WD_ATTR = f"{{{WD_ATTR_NS}}}default"
MODES = ("report-all", "report-all-tagged", "trim", "explicit")
BASIC_MODE = "explicit"
ALSO_SUPPORTED = ("report-all", "report-all-tagged", "trim")
CAPABILITY = (
    "urn:ietf:params:netconf:capability:with-defaults:1.0"
    f"?basic-mode={BASIC_MODE}&also-supported={','.join(ALSO_SUPPORTED)}"
)


def parse_with_defaults(op: etree._Element) -> str | None:
    """The ``<with-defaults>`` parameter of an operation element, or None when absent.

    Raises RpcError ``invalid-value`` for a value that is not a with-defaults mode and
    ``bad-element`` when the parameter is given twice.
    """
    found = op.findall(f"{{{WD_NS}}}with-defaults")
    if not found:
        return None
    if len(found) > 1:
        raise RpcError(
            "bad-element",
            "the with-defaults parameter is given more than once",
            type="protocol",
            info={"bad-element": "with-defaults"},
        )
    value = (found[0].text or "").strip()
    if value not in MODES:
        raise RpcError(
            "invalid-value",
            f"with-defaults '{value}' is not one of {', '.join(MODES)}",
            type="protocol",
        )
    return value


def apply_with_defaults(
    data: etree._Element,
    schema: Schema,
    mode: str,
    *,
    config_only: bool,
    config_namespaces: Collection[str] | None = None,
) -> etree._Element:
    """Rewrite ``data`` in place for with-defaults ``mode`` and return it.

    ``data`` is a wrapper (``<data>``) of top-level nodes or a top-level node itself.
    ``config_only`` (get-config, copy-config) leaves config false nodes alone.  With
    ``config_namespaces``, absent top-level configuration is materialised only for those
    module namespaces (the ones the server accepts configuration for).
    """
    if mode not in MODES:
        raise RpcError("invalid-value", f"with-defaults '{mode}' is not supported")
    if mode == "explicit":
        return data
    node = schema.find(data)
    pairs: list[tuple[etree._Element, SchemaNode]] = []
    if node is not None:
        pairs.append((data, node))
    else:
        for top_node in schema.tops():
            if config_only and not top_node.config:
                continue
            existing = list(data.iterchildren(top_node.qname))
            configurable = config_namespaces is None or top_node.namespace in config_namespaces
            if (
                not existing
                and mode != "trim"
                and _is_np_container(top_node)
                and top_node.config
                and configurable
            ):
                nsmap = _default_ns(top_node.namespace)
                if mode == "report-all-tagged":
                    nsmap["wd"] = WD_ATTR_NS
                created = etree.Element(top_node.qname, nsmap=nsmap)
                if _add_defaults(created, top_node, config_only, mode == "report-all-tagged"):
                    data.append(created)
                continue
            pairs.extend((element, top_node) for element in existing)
    for element, top_node in pairs:
        if mode == "trim":
            parent = element.getparent()
            if _trim(element, top_node, config_only) and parent is not None:
                parent.remove(element)
        else:
            if mode == "report-all-tagged":
                element = _declare_wd_prefix(element)
            _add_defaults(element, top_node, config_only, mode == "report-all-tagged")
    return data


def _default_ns(namespace: str) -> dict[str, str]:
    # lxml takes None as the default-namespace key; its stubs say str only
    return cast(dict[str, str], {None: namespace})


def _is_np_container(node: SchemaNode) -> bool:
    return node.kind == "container" and not node.presence


def _declare_wd_prefix(element: etree._Element) -> etree._Element:
    """Re-create ``element`` with ``xmlns:wd`` declared, so tags read ``wd:default``.

    The children are rebuilt, not moved: lxml drops namespace declarations of moved
    elements, and identityref values may need them (see agent.datatree.copying).
    """
    parent = element.getparent()
    if parent is None or element.nsmap.get("wd") == WD_ATTR_NS:
        return element
    nsmap = in_scope(element)
    nsmap["wd"] = WD_ATTR_NS
    replacement = etree.Element(element.tag, attributes(element), nsmap=nsmap)
    replacement.text = element.text
    replacement.tail = element.tail
    for child in element:
        if isinstance(child.tag, str):
            rebuild(replacement, child)
    parent.replace(element, replacement)
    return replacement


def _active_cases(element: etree._Element, node: SchemaNode) -> dict[str, str]:
    active: dict[str, str] = {}
    for child in element:
        if not isinstance(child.tag, str):
            continue
        child_node = node.child(*split_tag(child.tag))
        if child_node is not None and child_node.choice is not None:
            active.setdefault(child_node.choice[0], child_node.choice[1])
    return active


def _case_allows(node: SchemaNode, active: dict[str, str]) -> bool:
    if node.choice is None:
        return True
    choice, case = node.choice
    if choice in active:
        return active[choice] == case
    return node.in_default_case


def _add_defaults(
    element: etree._Element, node: SchemaNode, config_only: bool, tagged: bool
) -> bool:
    """Add missing defaults below ``element``; True when anything was added."""
    added = False
    active = _active_cases(element, node)
    for child_node in node.children():
        if config_only and not child_node.config:
            continue
        existing = list(element.iterchildren(child_node.qname))
        kind = child_node.kind
        if kind == "leaf":
            if existing:
                if tagged and _holds_default(existing[0], child_node):
                    existing[0].set(WD_ATTR, "true")
            elif child_node.default is not None and _case_allows(child_node, active):
                _new_leaf(element, child_node, child_node.default, tagged)
                added = True
        elif kind == "leaf-list":
            if not existing and child_node.defaults and _case_allows(child_node, active):
                for value in child_node.defaults:
                    _new_leaf(element, child_node, value, tagged)
                added = True
        elif kind == "container":
            if existing:
                for child in existing:
                    added = _add_defaults(child, child_node, config_only, tagged) or added
            elif not child_node.presence and child_node.config and _case_allows(child_node, active):
                created = etree.Element(child_node.qname)
                if _add_defaults(created, child_node, config_only, tagged):
                    element.append(created)
                    added = True
        elif kind == "list":
            for child in existing:
                added = _add_defaults(child, child_node, config_only, tagged) or added
    return added


def _new_leaf(parent: etree._Element, node: SchemaNode, value: str, tagged: bool) -> None:
    nsmap = {p: u for p, u in node.default_nsmap.items() if parent.nsmap.get(p) != u}
    leaf = etree.SubElement(parent, node.qname, nsmap=nsmap or None)
    leaf.text = value
    if tagged:
        leaf.set(WD_ATTR, "true")


def _holds_default(leaf: etree._Element, node: SchemaNode) -> bool:
    """Whether a leaf's value equals its schema default (compared in canonical form)."""
    if node.default is None or node.type is None:
        return False
    text = leaf.text or ""
    if node.type.base == "identityref":
        return _qualified(text, leaf.nsmap) == _qualified(node.default, node.default_nsmap)
    return node.type.canonical(text) == node.default


def _qualified(text: str, nsmap: Mapping[Any, str]) -> tuple[str | None, str]:
    """An identityref value as (namespace, name); no prefix means the default namespace."""
    prefix, sep, name = text.strip().rpartition(":")
    return (nsmap.get(prefix) if sep else nsmap.get(None)), name


def _trim(element: etree._Element, node: SchemaNode, config_only: bool) -> bool:
    """Remove default-valued leaves below ``element``; True if it is now an empty
    non-presence container that had children before."""
    had_children = len(element) > 0
    for child in list(element):
        if not isinstance(child.tag, str):
            continue
        child_node = node.child(*split_tag(child.tag))
        if child_node is None or (config_only and not child_node.config):
            continue
        if child_node.kind == "leaf":
            if _holds_default(child, child_node):
                element.remove(child)
        elif child_node.kind in ("container", "list") and _trim(child, child_node, config_only):
            element.remove(child)
    return had_children and len(element) == 0 and _is_np_container(node)
