"""RFC 6241 §6 subtree filtering over plain lxml data trees.

Written by hand: lxml has no subtree-filter engine, and the NETCONF libraries that have one
(libnetconf2/libyang, yuma) are C servers, not importable.

Rules implemented (RFC 6241 §6.2):

- namespace selection: a filter node matches data nodes of its namespace; a filter node
  without a namespace (``xmlns=""``) matches that local name in any namespace;
- attribute match: every attribute of a filter node must be on the data node with the same
  value.  As a documented extension, an attribute that the data node does not carry matches
  a leaf child of the same name (``<interface name="eth0"/>`` selects the list entry whose
  key leaf ``name`` is ``eth0``);
- a filter node without children is a selection node: the whole data subtree is selected;
- a leaf filter node with text is a content match node; all sibling content match nodes
  must match (logical AND) for the parent to be selected; a content match on a leaf-list
  selects the matching instances;
- a filter node with children is a containment node: the data node is output when something
  below it is selected;
- when a parent has only content match children and they all match, the whole parent
  subtree is selected; otherwise the content match nodes plus whatever the selection and
  containment siblings select are output;
- output keeps document order; empty containers the filter did not select as a whole are
  never emitted; with a schema, a selected list entry always keeps its key leaves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lxml import etree

from agent.datatree.copying import append_copy, attributes, in_scope

if TYPE_CHECKING:
    from agent.schema import Schema, SchemaNode

NETCONF_BASE_NS = "urn:ietf:params:xml:ns:netconf:base:1.0"


def subtree_filter(
    data: etree._Element,
    filter_children: Sequence[etree._Element],
    *,
    schema: Schema | None = None,
) -> etree._Element:
    """A new element with the tag of ``data`` holding what ``filter_children`` select.

    ``data`` is a wrapper (``<data>``, ``<config>``...) whose children are top-level data
    nodes; ``filter_children`` are the children of the ``<filter>`` element.  An empty
    sequence selects nothing.  ``data`` is not modified.
    """
    selection = _Selection()
    for flt in filter_children:
        if not isinstance(flt.tag, str):
            continue
        for node in data.iterchildren(_lookup_tag(flt.tag)):
            schema_node = schema.top(*_split(node.tag)) if schema is not None else None
            selection.apply(node, flt, schema_node)
    return selection.build(data)


def filter_selects(
    filter_children: Sequence[etree._Element], namespace: str, name: str
) -> etree._Element | None:
    """The filter element that applies to top-level node ``{namespace}name``, or None.

    When several filter siblings apply, an empty element of that name is returned (it
    selects the whole subtree, which is always a correct over-approximation).
    """
    tag = f"{{{namespace}}}{name}"
    matches = [f for f in filter_children if isinstance(f.tag, str) and _tag_matches(f.tag, tag)]
    if not matches:
        return None
    if len(matches) == 1:
        return matches[0]
    return etree.Element(tag)


@dataclass(frozen=True)
class _FilterKinds:
    any: bool  # the filter node has element children
    content: list[etree._Element]
    selections: list[etree._Element]
    containments: list[etree._Element]


class _Selection:
    """Data elements marked as fully selected or as ancestors of selected ones."""

    def __init__(self) -> None:
        self.full: set[etree._Element] = set()
        self.partial: set[etree._Element] = set()
        self._kinds: dict[etree._Element, _FilterKinds] = {}

    def _classify(self, flt: etree._Element) -> _FilterKinds:
        """A filter node's children by role (cached: list filters apply once per entry)."""
        kinds = self._kinds.get(flt)
        if kinds is None:
            children = [c for c in flt if isinstance(c.tag, str)]
            content = [c for c in children if _is_content_match(c)]
            selections = [c for c in children if len(c) == 0 and not _is_content_match(c)]
            containments = [c for c in children if len(c) > 0]
            kinds = _FilterKinds(bool(children), content, selections, containments)
            self._kinds[flt] = kinds
        return kinds

    def apply(
        self, node: etree._Element, flt: etree._Element, schema_node: SchemaNode | None
    ) -> bool:
        """Match filter element ``flt`` against data element ``node``; True if selected."""
        if flt.attrib and not _attributes_match(node, flt):
            return False
        kinds = self._classify(flt)
        if not kinds.any:
            if _is_content_match(flt) and not _text_matches(node, flt):
                return False
            self.full.add(node)
            return True
        matched_content: list[etree._Element] = []
        for flt_child in kinds.content:
            hits = [
                d
                for d in node.iterchildren(_lookup_tag(flt_child.tag))
                if (not flt_child.attrib or _attributes_match(d, flt_child))
                and _text_matches(d, flt_child)
            ]
            if not hits:
                return False
            matched_content.extend(hits)
        if kinds.content and not kinds.selections and not kinds.containments:
            self.full.add(node)
            return True
        selected = bool(matched_content)
        self.full.update(matched_content)
        for flt_child in kinds.selections:
            for d in node.iterchildren(_lookup_tag(flt_child.tag)):
                if not flt_child.attrib or _attributes_match(d, flt_child):
                    self.full.add(d)
                    selected = True
        for flt_child in kinds.containments:
            for d in node.iterchildren(_lookup_tag(flt_child.tag)):
                child_schema = (
                    schema_node.child(*_split(d.tag)) if schema_node is not None else None
                )
                if self.apply(d, flt_child, child_schema):
                    selected = True
        if not selected:
            return False
        self.partial.add(node)
        if schema_node is not None and schema_node.kind == "list":
            for key in schema_node.keys:
                leaf = node.find(f"{{{schema_node.namespace}}}{key}")
                if leaf is not None:
                    self.full.add(leaf)
        return True

    def build(self, data: etree._Element) -> etree._Element:
        """Copy the marked parts of ``data`` into a new tree, in document order."""
        return copy_selected(data, self.full, self.partial)


def copy_selected(
    data: etree._Element, full: set[etree._Element], partial: set[etree._Element]
) -> etree._Element:
    """A new element like ``data`` with copies of the ``full`` subtrees and the ``partial``
    elements (tag and attributes only) that lead to them, in document order.

    Every namespace declaration in scope in the original stays in scope in the copy, so
    prefixes used in values (identityrefs) still resolve.
    """
    root = etree.Element(data.tag, attributes(data), nsmap=in_scope(data))

    def copy_into(parent: etree._Element, node: etree._Element) -> None:
        if node in full:
            append_copy(parent, node)
        elif node in partial:
            declared = {p: u for p, u in in_scope(node).items() if parent.nsmap.get(p) != u}
            clone = etree.SubElement(parent, node.tag, attributes(node), nsmap=declared)
            for child in node:
                copy_into(clone, child)

    for node in data:
        copy_into(root, node)
    return root


def _split(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        namespace, _, name = tag[1:].partition("}")
        return namespace, name
    return "", tag


def _lookup_tag(filter_tag: str) -> str:
    """The lxml tag selector of a filter node: a filter node without namespace matches the
    local name in any namespace (``{*}name``)."""
    return filter_tag if filter_tag.startswith("{") else "{*}" + filter_tag


def _tag_matches(filter_tag: str, data_tag: str) -> bool:
    """A filter tag without namespace matches the local name in any namespace."""
    if filter_tag == data_tag:
        return True
    if filter_tag.startswith("{"):
        return False
    return _split(data_tag)[1] == filter_tag


def _is_content_match(flt: etree._Element) -> bool:
    return len(flt) == 0 and bool((flt.text or "").strip())


def _attributes_match(node: etree._Element, flt: etree._Element) -> bool:
    for key, value in attributes(flt).items():
        namespace, name = _split(key)
        if namespace == NETCONF_BASE_NS:
            continue  # protocol attributes, not data
        actual = node.get(key)
        if actual is None:
            # documented extension: match a key (or any) leaf child of the same name
            child_ns = namespace or _split(node.tag)[0]
            leaf = node.find(f"{{{child_ns}}}{name}") if child_ns else node.find(name)
            actual = leaf.text.strip() if leaf is not None and leaf.text else None
        if actual != value:
            return False
    return True


def _text_matches(node: etree._Element, flt: etree._Element) -> bool:
    """Content match: equal text, or the same qualified name when both are prefixed."""
    if len(node):
        return False
    have = (node.text or "").strip()
    want = (flt.text or "").strip()
    if have == want:
        return True
    return _qualified(have, node.nsmap) == _qualified(want, flt.nsmap) != (None, None)


def _qualified(text: str, nsmap: Mapping[str | None, str]) -> tuple[str | None, str | None]:
    """An identityref-like ``prefix:name`` as (namespace, name), else (None, None)."""
    prefix, sep, name = text.partition(":")
    if not sep or not prefix or prefix not in nsmap:
        return None, None
    return nsmap[prefix], name
