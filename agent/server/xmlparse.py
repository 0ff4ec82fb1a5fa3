"""The one hardened XML parser for everything the server receives.

No entity is ever resolved, no DTD is loaded, nothing is fetched over the network, and a
document that carries a DOCTYPE at all is refused: NETCONF messages never need one, and
refusing it is the simplest complete defence against billion-laughs and XXE.  Size is capped
by the framer (and again here); depth is capped after parsing with one XPath evaluated by
libxml2 itself, so the check costs no Python loop.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

DEFAULT_MAX_DEPTH = 128


class XmlError(Exception):
    """The message is not acceptable XML; answer malformed-message (or close the session)."""


class HardenedParser:
    """Parses received NETCONF messages safely; one instance per server is enough."""

    def __init__(self, max_size: int, max_depth: int = DEFAULT_MAX_DEPTH) -> None:
        self.max_size = max_size
        self.max_depth = max_depth
        # huge_tree stays off: libxml2 then also enforces its own limits on text node size
        # and nesting; our own caps are lower.
        self._parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
            collect_ids=False,
        )
        steps = "/*" * (max_depth + 1)
        self._too_deep = etree.XPath(f"boolean({steps})")
        # Nesting d elements deep takes at least 7 * (d - 1) + 4 characters ("<a>" and "</a>"
        # around an innermost "<a/>"), and every encoding spends at least one byte on a
        # character: a shorter message cannot exceed the depth cap, and skips the check.
        self._deep_possible = 7 * max_depth + 4

    def parse(self, data: bytes) -> etree._Element:
        """Parse one message; raise ``XmlError`` with a short, safe reason on any problem."""
        if len(data) > self.max_size:
            raise XmlError(f"message larger than {self.max_size} bytes")
        if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
            # even a DOCTYPE inside a comment or CDATA is refused: no legitimate NETCONF
            # message needs one, and refusing early avoids parsing an internal subset
            raise XmlError("DOCTYPE and ENTITY declarations are not allowed")
        try:
            root = etree.fromstring(data, self._parser)
        except etree.XMLSyntaxError as exc:
            raise XmlError(f"not well-formed XML: {_first_line(exc)}") from None
        docinfo: Any = root.getroottree().docinfo
        if docinfo.doctype or docinfo.internalDTD is not None:
            raise XmlError("DOCTYPE declarations are not allowed")
        if len(data) >= self._deep_possible and self._too_deep(root):
            raise XmlError(f"XML nested deeper than {self.max_depth} levels")
        if _has_entity_reference(root):
            raise XmlError("entity references are not allowed")
        return root


def _has_entity_reference(root: etree._Element) -> bool:
    # With resolve_entities=False an undeclared reference stays an _Entity node; since every
    # DOCTYPE is refused above only predefined entities can occur, which libxml2 resolves.
    for node in root.iter(etree.Entity):
        del node
        return True
    return False


def _first_line(exc: etree.XMLSyntaxError) -> str:
    text = str(exc.msg or exc).splitlines()[0] if str(exc.msg or exc) else "syntax error"
    return text[:200]
