"""RFC 6241 :xpath:1.0 filtering over plain lxml data trees.

lxml (libxml2) evaluates the XPath; this module only decides the namespace bindings and
builds the reply tree.  Each top-level data node is evaluated as the root of its own
document (``etree.ElementTree(node)``), which is the conceptual datastore document of
RFC 6241 §8.9 seen one top-level node at a time, so ``/pa:product-analytics/...`` works on
a ``<data>`` wrapper holding several modules' trees.

Prefixes resolve from the in-scope namespaces of the ``<filter>`` element (the caller
passes ``filter.nsmap``).  As a documented fallback, a prefix that is not bound there but is
a YANG module name or a module's own prefix (``pa``, ``product-analytics``) resolves to that
module's namespace when a schema is given; this is what IOS-XE style clients send.

An unprefixed name test inherits the prefix of the step before it
(``/pa:product-analytics/status`` means ``/pa:product-analytics/pa:status``), as YANG
paths and IOS-XE filters are written.  Plain XPath 1.0 would put ``status`` in no
namespace and select nothing, which no NETCONF data node can match anyway.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from lxml import etree

from agent.api import RpcError
from agent.datatree.subtree import copy_selected

if TYPE_CHECKING:
    from agent.schema import Schema

# ``filter.nsmap`` (with a None key for the default namespace) or a plain prefix map
Namespaces = Mapping[str | None, str] | Mapping[str, str]

# string literals, then prefixed names not followed by "::" (an axis) or "(" (a function)
_LITERAL_RE = re.compile(r"\"[^\"]*\"|'[^']*'")
_PREFIX_RE = re.compile(r"(?<![\w.:-])([A-Za-z_][\w.-]*):(?![:])(?=[A-Za-z_*])")
_FIRST_STEP_RE = re.compile(r"\s*/\s*(?:child::)?\s*(?:([A-Za-z_][\w.-]*):)?([A-Za-z_][\w.-]*|\*)")


def resolve_namespaces(
    expr: str, namespaces: Namespaces, schema: Schema | None = None
) -> dict[str, str]:
    """The prefix bindings ``expr`` needs; RpcError invalid-value for an unknown prefix."""
    bound = {p: u for p, u in namespaces.items() if p is not None}
    for prefix in sorted(set(_PREFIX_RE.findall(_LITERAL_RE.sub("''", expr)))):
        if prefix in bound:
            continue
        fallback = schema.namespace_of(prefix) if schema is not None else None
        if fallback is None:
            raise RpcError(
                "invalid-value",
                f"XPath filter uses the prefix '{prefix}', which is not declared on the "
                "<filter> element and is not a YANG module name or prefix",
                type="protocol",
            )
        bound[prefix] = fallback
    return bound


# XPath 1.0 lexical structure (§3.7), enough to tell name tests from everything else
_TOKEN_RE = re.compile(
    r"""\s*(?:
        (?P<literal>"[^"]*"|'[^']*')
      | (?P<number>\d+(?:\.\d*)?|\.\d+)
      | (?P<op>//|::|\.\.|!=|<=|>=|[/\[\]()@,|=<>+*.$-])
      | (?P<name>[A-Za-z_][\w.-]*(?::(?:[A-Za-z_][\w.-]*|\*))?)
    )""",
    re.VERBOSE,
)
_OPERATOR_NAMES = {"and", "or", "mod", "div"}
# after these tokens a name is a name test (or function/axis), never an operator name
_NAME_CONTEXT = {
    None,
    "@",
    "::",
    "(",
    "[",
    ",",
    "/",
    "//",
    "|",
    "=",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "+",
    "-",
    "and",
    "or",
    "mod",
    "div",
    "*op",
}


def inherit_prefixes(expr: str) -> str:
    """Give every unprefixed name test the prefix of the step before it (see module doc).

    Attribute names, function names, axis names and operator names are left alone; a
    predicate starts with the prefix of the step it belongs to; each ``|`` branch and each
    absolute path starts afresh.
    """
    out: list[str] = []
    pos = 0
    previous: str | None = None
    current: str | None = None
    saved: list[str | None] = []
    while pos < len(expr):
        match = _TOKEN_RE.match(expr, pos)
        if match is None or match.end() == pos:
            return expr  # not tokenizable here: let lxml report the syntax error
        pos = match.end()
        token = match.group(match.lastgroup or "")
        kind = match.lastgroup
        text = match.group(0)
        if kind == "op":
            if token == "*" and previous not in _NAME_CONTEXT:
                previous = "*op"
                out.append(text)
                continue
            if token in ("[", "("):
                saved.append(current)
            elif token in ("]", ")") and saved:
                current = saved.pop()
            elif token == "|" or (token in ("/", "//") and previous in _NAME_CONTEXT):
                current = None  # a new absolute path or union branch
            previous = token
            out.append(text)
            continue
        if kind == "name":
            rest = expr[pos:].lstrip()
            is_operator = token in _OPERATOR_NAMES and previous not in _NAME_CONTEXT
            is_function_or_axis = rest.startswith("(") or rest.startswith("::")
            if not is_operator and not is_function_or_axis and previous != "@":
                prefix, colon, _local = token.partition(":")
                if colon:
                    current = prefix
                elif current is not None:
                    text = text.replace(token, f"{current}:{token}", 1)
            previous = "*op" if is_operator else token
            out.append(text)
            continue
        previous = token
        out.append(text)
    return "".join(out) + expr[pos:]


def compile_xpath(expr: str, namespaces: Namespaces, schema: Schema | None = None) -> etree.XPath:
    """Compile ``expr`` once; RpcError invalid-value when it is not valid XPath 1.0."""
    if not expr.strip():
        raise RpcError("invalid-value", "XPath filter 'select' is empty", type="protocol")
    expr = inherit_prefixes(expr)
    bound = resolve_namespaces(expr, namespaces, schema)
    try:
        return etree.XPath(expr, namespaces=bound)
    except etree.XPathSyntaxError as exc:
        raise RpcError(
            "invalid-value",
            f"XPath filter '{expr}' is not valid XPath 1.0: {exc}",
            type="protocol",
        ) from exc


@functools.lru_cache(maxsize=256)
def _check_syntax(expr: str, bound: tuple[tuple[str, str], ...]) -> None:
    """Report syntax errors before any evaluation (cached: clients repeat their filters)."""
    compile_xpath(expr, dict(bound))


def xpath_filter(
    data: etree._Element,
    expr: str,
    namespaces: Namespaces,
    *,
    schema: Schema | None = None,
) -> etree._Element:
    """A new element with the tag of ``data`` holding what ``expr`` selects.

    Each selected element is output with its whole subtree and all its ancestors (up to,
    not including, ``data``); a selected attribute or text node selects its element.  With
    a schema, ancestor list entries keep their key leaves.  ``data`` is not modified.
    Raises RpcError (invalid-value) for an unknown prefix, a syntax error, an evaluation
    error or an expression that does not yield a node-set.
    """
    expr = inherit_prefixes(expr)
    bound = resolve_namespaces(expr, namespaces, schema)
    _check_syntax(expr, tuple(sorted(bound.items())))
    if expr.strip() == "/":
        # the root node selects the whole datastore; lxml returns no node for it
        expr = "/*"
    full: set[etree._Element] = set()
    partial: set[etree._Element] = set()
    for top in data:
        if not isinstance(top.tag, str):
            continue
        try:
            # a compiled etree.XPath sees the real document root; only the document
            # evaluator treats an ElementTree around a sub-element as its root
            result = etree.XPathDocumentEvaluator(etree.ElementTree(top), namespaces=bound)(expr)
        except etree.XPathError as exc:
            raise RpcError(
                "invalid-value",
                f"XPath filter '{expr}' cannot be evaluated: {exc}",
                type="protocol",
            ) from exc
        if not isinstance(result, list):
            raise RpcError(
                "invalid-value",
                f"XPath filter '{expr}' does not select nodes (it yields {result!r})",
                type="protocol",
            )
        for item in result:
            element = _element_of(item)
            if element is None or element in full:
                continue
            full.add(element)
            _mark_ancestors(element, data, partial, full, schema)
    return copy_selected(data, full, partial)


def xpath_selects(
    expr: str,
    namespaces: Namespaces,
    namespace: str,
    name: str,
    *,
    schema: Schema | None = None,
) -> bool:
    """Whether ``expr`` may select something in top-level node ``{namespace}name``.

    Conservative: False only when every ``|`` branch of the expression is an absolute
    location path whose first step names another node; True whenever unsure.
    """
    try:
        bound = resolve_namespaces(expr, namespaces, schema)
    except RpcError:
        return True
    for branch in _split_union(_LITERAL_RE.sub("''", expr)):
        branch = branch.strip()
        while branch.startswith("(") and branch.endswith(")"):
            branch = branch[1:-1].strip()
        if branch.startswith("//") or not branch.startswith("/"):
            return True
        match = _FIRST_STEP_RE.match(branch)
        if match is None:
            return True
        prefix, local = match.group(1), match.group(2)
        if local != "*" and local != name:
            continue
        if prefix is None:
            # an unprefixed name test matches only elements without namespace in XPath 1.0
            if local == "*":
                return True
            continue
        if bound.get(prefix) == namespace:
            return True
    return False


def _split_union(expr: str) -> list[str]:
    """Split at ``|`` outside brackets and parentheses (literals already blanked)."""
    parts: list[str] = []
    depth = 0
    start = 0
    for index, char in enumerate(expr):
        if char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char == "|" and depth == 0:
            parts.append(expr[start:index])
            start = index + 1
    parts.append(expr[start:])
    return parts


def _element_of(item: object) -> etree._Element | None:
    """The element a node-set member belongs to (itself, or the owner of text/attribute)."""
    if isinstance(item, etree._Element):
        return item if isinstance(item.tag, str) else None
    getparent = getattr(item, "getparent", None)
    if getparent is None:
        return None
    parent = getparent()
    return parent if isinstance(parent, etree._Element) else None


def _mark_ancestors(
    element: etree._Element,
    data: etree._Element,
    partial: set[etree._Element],
    full: set[etree._Element],
    schema: Schema | None,
) -> None:
    ancestor = element.getparent()
    while ancestor is not None and ancestor is not data:
        if ancestor in partial:
            break
        partial.add(ancestor)
        if schema is not None:
            schema_node = schema.find(ancestor)
            if schema_node is not None and schema_node.kind == "list":
                for child in ancestor:
                    if isinstance(child.tag, str) and _local(child.tag) in schema_node.keys:
                        full.add(child)
        ancestor = ancestor.getparent()


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]
