"""The hardened parser: DTDs, entities, depth and size caps."""

from __future__ import annotations

import pytest

from agent.server.xmlparse import HardenedParser, XmlError

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<rpc xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" message-id="1"><get>&lol3;</get></rpc>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE rpc [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<rpc xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" message-id="1"><get>&xxe;</get></rpc>"""


def test_accepts_plain_rpc() -> None:
    root = HardenedParser(10_000).parse(
        b'<nc:rpc xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0" message-id="1">'
        b"<nc:get/></nc:rpc>"
    )
    assert root.tag == "{urn:ietf:params:xml:ns:netconf:base:1.0}rpc"


@pytest.mark.parametrize("data", [BILLION_LAUGHS, XXE])
def test_refuses_doctype_and_entities(data: bytes) -> None:
    with pytest.raises(XmlError) as info:
        HardenedParser(10_000).parse(data)
    assert "passwd" not in str(info.value) and "root:" not in str(info.value)


def test_refuses_undeclared_entity() -> None:
    with pytest.raises(XmlError):
        HardenedParser(10_000).parse(b"<a>&foo;</a>")


def test_depth_cap() -> None:
    parser = HardenedParser(1_000_000, max_depth=10)
    ok = b"<a>" * 10 + b"</a>" * 10
    parser.parse(ok)
    with pytest.raises(XmlError):
        parser.parse(b"<a>" * 11 + b"</a>" * 11)


def test_size_cap_and_syntax_errors() -> None:
    parser = HardenedParser(20)
    with pytest.raises(XmlError):
        parser.parse(b"<a>" + b"x" * 30 + b"</a>")
    with pytest.raises(XmlError):
        parser.parse(b"<a><b></a>")
