"""Merging data trees (configuration plus state for ``get``) and stripping state.

With a schema, list entries are matched by their keys, leaf-list entries by value, and
everything else by QName.  Without a schema the structure decides (documented rules):

- an element without children is a leaf, matched by QName and replaced by the overlay's;
  when the overlay holds several of them with the same QName they are a leaf-list and are
  matched by value;
- an element with children is matched with a base element of the same QName when it is
  the only one with that QName on both sides (a container), or when the first leaf child of
  both has the same name and text (a list entry: RFC 7950 §7.8.5 puts the keys first).

The schema-less rules are right for what they are used for: merging state (config false
nodes from a provider) into configuration, where the two trees never set the same leaf.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lxml import etree

from agent.datatree.copying import append_copy, attributes, replace_leaf_value

if TYPE_CHECKING:
    from agent.schema import Schema, SchemaNode


def merge_into(
    base: etree._Element, overlay: etree._Element, schema: Schema | None = None
) -> etree._Element:
    """Merge ``overlay`` into ``base`` and return ``base``; ``overlay`` is not modified.

    With the same QName (two ``<data>`` wrappers, two top-level containers) the children
    of ``overlay`` are merged into ``base``.  With another QName, ``overlay`` itself is
    merged as a child of ``base``: pass a StateProvider's top-level element straight to
    the ``<data>`` wrapper (appending it to a wrapper first would let lxml drop namespace
    declarations that identityref values need).  Leaves from ``overlay`` win; new nodes
    are appended.
    """
    schema_node = schema.find(base) if schema is not None else None
    if overlay.tag == base.tag:
        children = [c for c in overlay if isinstance(c.tag, str)]
    else:
        children = [overlay]
    _merge_children(base, children, schema_node, schema, wrapper=schema_node is None)
    return base


def _merge_children(
    base: etree._Element,
    children: list[etree._Element],
    schema_node: SchemaNode | None,
    schema: Schema | None,
    *,
    wrapper: bool = False,
) -> None:
    for child in children:
        tag = child.tag
        node: SchemaNode | None = None
        if schema_node is not None:
            node = schema_node.child(*_split(tag))
        elif schema is not None and wrapper:
            node = schema.top(*_split(tag))
        match = _find_match(base, children, child, node)
        if match is None:
            append_copy(base, child)
            continue
        kind = node.kind if node is not None else ("leaf" if len(child) == 0 else "container")
        if kind == "leaf":
            if len(match):  # a leaf never has children; the overlay's value is the truth
                for stale in list(match):
                    match.remove(stale)
            for key, value in attributes(child).items():
                match.set(key, value)
            replace_leaf_value(base, match, child)
        elif kind in ("anydata", "anyxml"):
            base.remove(match)
            append_copy(base, child)
        elif kind != "leaf-list":
            grandchildren = [c for c in child if isinstance(c.tag, str)]
            _merge_children(match, grandchildren, node, schema)


def _find_match(
    base: etree._Element,
    siblings: list[etree._Element],
    child: etree._Element,
    node: SchemaNode | None,
) -> etree._Element | None:
    tag = child.tag
    candidates = list(base.iterchildren(tag))
    if not candidates:
        return None
    if node is not None:
        if node.kind == "list":
            namespace = node.namespace
            wanted = [_child_text(child, namespace, k) for k in node.keys]
            if None in wanted:
                return None
            for candidate in candidates:
                if [_child_text(candidate, namespace, k) for k in node.keys] == wanted:
                    return candidate
            return None
        if node.kind == "leaf-list":
            value = (child.text or "").strip()
            return next((c for c in candidates if (c.text or "").strip() == value), None)
        return candidates[0]
    if len(child) == 0:
        if sum(1 for c in siblings if c.tag == tag) > 1:
            value = (child.text or "").strip()
            return next((c for c in candidates if (c.text or "").strip() == value), None)
        return candidates[0]
    if len(candidates) == 1 and sum(1 for c in siblings if c.tag == tag) == 1:
        return candidates[0]
    first = _first_leaf(child)
    if first is None:
        return None
    for candidate in candidates:
        other = _first_leaf(candidate)
        if (
            other is not None
            and other.tag == first.tag
            and (other.text or "").strip() == (first.text or "").strip()
        ):
            return candidate
    return None


def strip_config_false(data: etree._Element, schema: Schema) -> etree._Element:
    """Remove, in place, every config false node from ``data`` and return it.

    ``data`` is a top-level data element or a wrapper (``<data>``, ``<config>``) of them.
    Containers left empty by the removal are removed too (an empty non-presence container
    is never output); nodes the schema does not know are kept.
    """
    node = schema.find(data)
    if node is not None:
        _strip(data, node, schema)
        return data
    for top in list(data):
        if not isinstance(top.tag, str):
            continue
        top_node = schema.top(*_split(top.tag))
        if top_node is None:
            continue
        if not top_node.config or _strip(top, top_node, schema):
            data.remove(top)
    return data


# Copy-config and get-config want the configuration without state: the same operation.
strip_state = strip_config_false


def _strip(element: etree._Element, node: SchemaNode, schema: Schema) -> bool:
    """Strip below ``element``; True when it became an empty non-presence container."""
    had_children = len(element) > 0
    for child in list(element):
        if not isinstance(child.tag, str):
            continue
        child_node = node.child(*_split(child.tag))
        if child_node is None:
            continue
        if not child_node.config or _strip(child, child_node, schema):
            element.remove(child)
    return (
        had_children
        and len(element) == 0
        and node.kind in ("container", "list")
        and not (node.kind == "container" and node.presence)
    )


def _first_leaf(element: etree._Element) -> etree._Element | None:
    for child in element:
        if isinstance(child.tag, str):
            return child if len(child) == 0 else None
    return None


def _child_text(element: etree._Element, namespace: str, name: str) -> str | None:
    found = element.find(f"{{{namespace}}}{name}")
    if found is None:
        return None
    return (found.text or "").strip()


def _split(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        namespace, _, name = tag[1:].partition("}")
        return namespace, name
    return "", tag
