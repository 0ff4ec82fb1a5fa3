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
    # A prefix can be lost in two ways: it is in scope on the original's top (declared there
    # or on an ancestor) but not on the copy's top, or a declaration below the top was
    # dropped as redundant.  When the copy's top keeps every prefix of the original's top and
    # the original declares nothing below its top, every element of the copy resolves each
    # prefix as its original does, and the Python scan of every leaf is skipped.
    scope = clone.nsmap
    original_scope = original.nsmap
    if all(
        scope.get(p) == u for p, u in original_scope.items() if p is not None
    ) and not _declares_below_top(original, original_scope):
        return False
    # the clone is a faithful copy: its colon leaves correspond one to one, in order
    originals, clones = _COLON_LEAVES(original), _COLON_LEAVES(clone)
    if not isinstance(originals, list) or not isinstance(clones, list):
        return True  # cannot tell: the caller rebuilds, which is always correct
    for source, element in zip(originals, clones, strict=True):
        if not isinstance(source, etree._Element) or not isinstance(element, etree._Element):
            continue
        prefix = value_prefix(source)
        if prefix is None:
            continue
        wanted = source.nsmap.get(prefix)
        if wanted is not None and element.nsmap.get(prefix) != wanted:
            return True
    return False


def _declares_below_top(element: etree._Element, scope: dict[str | None, str]) -> bool:
    """Whether any element below ``element`` declares a namespace (``scope`` is its nsmap)."""
    parent = element.getparent()
    inherited = parent.nsmap if parent is not None else {}
    on_top = sum(1 for p, u in scope.items() if inherited.get(p) != u)
    # iterwalk reports every declaration of the subtree, top included, walking in C
    for declarations, _event in enumerate(etree.iterwalk(element, events=("start-ns",)), 1):
        if declarations > on_top:
            return True
    return False


def _typed(nsmap: dict[str | None, str]) -> dict[str, str]:
    return cast(dict[str, str], nsmap)
