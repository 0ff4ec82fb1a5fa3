"""Copying data subtrees without losing the prefixes that leaf values use.

YANG identityref (and instance-identifier) values carry namespace prefixes in their text,
e.g. ``<type>ianaift:ethernetCsmacd</type>``.  lxml only tracks prefixes used by tags and
attributes: when a subtree is moved or copied into another tree it drops every declaration
whose namespace is already declared above the insertion point (under any prefix), and a
deep copy keeps only the declarations the copied tags use.  Either way a value's prefix can
end up undeclared.  ``append_copy`` takes the fast C deep copy and checks the leaves;
only when a value's prefix was lost does it rebuild the subtree element by element, since
lxml keeps every declaration made when an element is created in place.
"""

from __future__ import annotations

import copy
import re
from typing import cast

from lxml import etree

_NCNAME = re.compile(r"[A-Za-z_][\w.-]*\Z")


def in_scope(element: etree._Element) -> dict[str, str]:
    """All namespaces in scope on ``element`` (None is the default namespace's key)."""
    # lxml accepts None as the default-namespace key; its stubs say str only
    return cast(dict[str, str], dict(element.nsmap))


def attributes(element: etree._Element) -> dict[str, str]:
    """An element's attributes as a plain dict."""
    return {str(k): str(v) for k, v in element.attrib.items()}


def value_prefix(element: etree._Element) -> str | None:
    """The prefix of a leaf value that looks like ``prefix:name``, else None."""
    text = element.text
    if not text or ":" not in text or len(element):
        return None
    prefix = text.strip().partition(":")[0]
    return prefix if _NCNAME.match(prefix) else None


def append_copy(parent: etree._Element, node: etree._Element) -> etree._Element:
    """Append a deep copy of ``node`` (without its tail) to ``parent`` and return it."""
    clone = copy.deepcopy(node)
    clone.tail = None
    parent.append(clone)
    if _lost_prefix(node, clone):
        parent.remove(clone)
        clone = rebuild(parent, node)
    return clone


def rebuild(parent: etree._Element, node: etree._Element) -> etree._Element:
    """Copy ``node`` as the last child of ``parent``, one element at a time, declaring on
    each copy the namespaces the original has in scope and ``parent`` does not."""
    scope = parent.nsmap
    declared = {p: u for p, u in node.nsmap.items() if scope.get(p) != u}
    element = etree.SubElement(parent, node.tag, attributes(node), nsmap=_typed(declared))
    element.text = node.text
    for child in node:
        if isinstance(child.tag, str):
            rebuild(element, child)
    return element


def replace_leaf_value(
    parent: etree._Element, leaf: etree._Element, source: etree._Element
) -> None:
    """Give ``leaf`` (a child of ``parent``) the value of ``source``, keeping its prefix."""
    prefix = value_prefix(source)
    if prefix is not None and leaf.nsmap.get(prefix) != source.nsmap.get(prefix):
        parent.remove(leaf)
        rebuild(parent, source)
        return
    leaf.text = source.text


# elements whose text has a colon: the only ones whose value can carry a prefix (found by
# libxml2; searching text nodes is several times faster than testing every element)
_COLON_LEAVES = etree.XPath("descendant::text()[contains(., ':')]/..")


def _lost_prefix(original: etree._Element, clone: etree._Element) -> bool:
    """Whether a value prefix in ``clone`` no longer means what it means in ``original``."""
    found = _COLON_LEAVES(clone)
    for element in found if isinstance(found, list) else ():
        if not isinstance(element, etree._Element):
            continue
        prefix = value_prefix(element)
        if prefix is None:
            continue
        wanted = _counterpart(original, clone, element).nsmap.get(prefix)
        if wanted is not None and element.nsmap.get(prefix) != wanted:
            return True
    return False


def _counterpart(
    original: etree._Element, clone: etree._Element, element: etree._Element
) -> etree._Element:
    """The element of ``original`` at the position ``element`` has in ``clone``."""
    steps: list[int] = []
    while element is not clone:
        parent = element.getparent()
        assert parent is not None
        steps.append(parent.index(element))
        element = parent
    node = original
    for step in reversed(steps):
        node = node[step]
    return node


def _typed(nsmap: dict[str | None, str]) -> dict[str, str]:
    return cast(dict[str, str], nsmap)
