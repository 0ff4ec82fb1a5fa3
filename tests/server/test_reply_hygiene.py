"""Replies are well-formed for every reader: prefixes in error-path resolve, and
with-defaults must be in its own namespace."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from lxml import etree
from server_helpers import NC, RawSession, RunningServer, error_tags, run_raw

from agent.server.session import _serialised_start, reply_start

WD = "urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults"
_PREFIX = re.compile(r"([A-Za-z_][\w.-]*):")


@pytest.fixture
def server(tmp_path: Path) -> RunningServer:
    running = RunningServer(tmp_path / "state")
    yield running  # type: ignore[misc]
    running.stop()


@pytest.mark.parametrize(
    "body",
    [
        "<get-config><source><foo/></source></get-config>",
        "<edit-config><target><running/></target><default-operation>sideways"
        "</default-operation><config/></edit-config>",
        "<commit><confirmed/><confirm-timeout>0</confirm-timeout></commit>",
    ],
)
def test_error_path_prefixes_resolve(server: RunningServer, body: str) -> None:
    async def scenario(raw: RawSession) -> None:
        await raw.hello()
        reply = await raw.rpc(body)
        paths = list(reply.iter(f"{{{NC}}}error-path"))
        assert paths, error_tags(reply)
        for path in paths:
            for prefix in _PREFIX.findall(path.text or ""):
                assert prefix in path.nsmap, (prefix, path.text, path.nsmap)
        # the session goes on
        ok = await raw.rpc("<get-config><source><running/></source></get-config>", "2")
        assert error_tags(ok) == []

    run_raw(server.port, scenario)


def test_with_defaults_in_the_base_namespace_is_an_error(server: RunningServer) -> None:
    async def scenario(raw: RawSession) -> None:
        await raw.hello()
        reply = await raw.rpc("<get><with-defaults>trim</with-defaults></get>")
        assert error_tags(reply) == ["unknown-element"]
        good = await raw.rpc(f'<get><with-defaults xmlns="{WD}">trim</with-defaults></get>', "2")
        assert error_tags(good) == []

    run_raw(server.port, scenario)


@pytest.mark.parametrize(
    "rpc",
    [
        f'<rpc xmlns="{NC}" message-id="101"/>',
        f'<nc:rpc xmlns:nc="{NC}" message-id="urn:uuid:5d3f4bd2-4a7d-4a1c-9d0e"/>',
        f'<rpc xmlns="{NC}" xmlns:x="urn:x" x:tag="a&amp;b" message-id="7" user="ops"/>',
        f'<rpc xmlns="{NC}" message-id="a &amp; &lt;b&gt; &quot;c&quot;&#9;d"/>',
        f'<rpc xmlns="{NC}" message-id="42" note="pa-message-id-placeholder"/>',
        f'<rpc xmlns="{NC}" message-id=""/>',
        f'<rpc xmlns="{NC}"/>',
    ],
)
def test_reply_start_echoes_rpc_attributes_exactly(rpc: str) -> None:
    """The memoised start of a reply is byte for byte what lxml makes of the rpc's
    attributes and namespaces, for a second rpc of the same shape too."""
    element = etree.fromstring(rpc)
    for _ in range(2):
        assert reply_start(element) == _serialised_start(element)
    if element.get("message-id"):
        element.set("message-id", "2002")
        assert reply_start(element) == _serialised_start(element)
        assert b'message-id="2002"' in reply_start(element)
    etree.fromstring(reply_start(element) + b"</rpc-reply>")  # well-formed


def test_reply_start_keeps_the_attribute_order_of_each_rpc() -> None:
    first = etree.fromstring(f'<rpc xmlns="{NC}" message-id="1" user="x"/>')
    second = etree.fromstring(f'<rpc xmlns="{NC}" user="x" message-id="2"/>')
    for rpc in (first, second, first):
        assert reply_start(rpc) == _serialised_start(rpc)
