"""The protocol over raw SSH channels: hello, EOM and chunked framing by hand, rpc
attributes, malformed input, timeouts and session reaping."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from lxml import etree
from server_helpers import NC, PA, RawSession, RunningServer, error_tags, run_raw

from agent.config import ServerConfig
from agent.server.framing import encode_chunked

BASE10 = "urn:ietf:params:netconf:base:1.0"
BASE11 = "urn:ietf:params:netconf:base:1.1"
GET_CONFIG = "<get-config><source><running/></source></get-config>"


def capabilities(hello: etree._Element) -> list[str]:
    return [c.text or "" for c in hello.iter(f"{{{NC}}}capability")]


def test_server_hello(running: RunningServer) -> None:
    async def scenario(raw: RawSession) -> etree._Element:
        return await raw.hello()

    hello = run_raw(running.port, scenario)
    caps = capabilities(hello)
    assert BASE10 in caps and BASE11 in caps
    assert "urn:ietf:params:netconf:capability:candidate:1.0" in caps
    assert "urn:ietf:params:netconf:capability:confirmed-commit:1.1" in caps
    assert "urn:ietf:params:netconf:capability:xpath:1.0" in caps
    assert any(c.startswith("urn:ietf:params:netconf:capability:with-defaults:1.0") for c in caps)
    assert any(c.startswith("urn:ietf:params:netconf:capability:yang-library:1.1") for c in caps)
    session_id = hello.findtext(f"{{{NC}}}session-id")
    assert session_id is not None and int(session_id) > 0


def test_base10_end_of_message_framing(running: RunningServer) -> None:
    async def scenario(raw: RawSession) -> bytes | None:
        await raw.hello(base11=False)
        raw.writer.write(f'<rpc xmlns="{NC}" message-id="7">{GET_CONFIG}</rpc>]]>]]>'.encode())
        raw.decoder = type(raw.decoder)(1 << 20)  # a fresh EOM decoder
        return await raw.read_message()

    reply = run_raw(running.port, scenario)
    assert reply is not None
    root = etree.fromstring(reply)
    assert root.tag == f"{{{NC}}}rpc-reply" and root.get("message-id") == "7"
    assert root.find(f"{{{NC}}}data") is not None


def test_base11_hand_made_chunks(running: RunningServer) -> None:
    message = f'<rpc xmlns="{NC}" message-id="8">{GET_CONFIG}</rpc>'.encode()

    async def scenario(raw: RawSession) -> list[bytes | None]:
        await raw.hello()
        # one message in three chunks of odd sizes, split across writes mid-header
        parts = [message[:5], message[5:6], message[6:]]
        stream = b"".join(b"\n#%d\n%s" % (len(p), p) for p in parts) + b"\n##\n"
        raw.writer.write(stream[:3])
        await asyncio.sleep(0)
        raw.writer.write(stream[3:])
        first = await raw.read_message()
        # two pipelined messages in one write
        raw.writer.write(b"\n#%d\n%s\n##\n" % (len(message), message) * 2)
        return [first, await raw.read_message(), await raw.read_message()]

    replies = run_raw(running.port, scenario)
    for reply in replies:
        assert reply is not None
        assert etree.fromstring(reply).get("message-id") == "8"


def test_bad_chunk_header_closes_session(running: RunningServer) -> None:
    async def scenario(raw: RawSession) -> bool:
        await raw.hello()
        raw.writer.write(b"\n#0x10\n<rpc/>\n##\n")
        return await raw.closed()

    assert run_raw(running.port, scenario)


def test_eom_after_switch_to_chunked_closes_session(running: RunningServer) -> None:
    async def scenario(raw: RawSession) -> bool:
        await raw.hello()
        raw.writer.write(f'<rpc xmlns="{NC}" message-id="1"><get/></rpc>]]>]]>'.encode())
        return await raw.closed()

    assert run_raw(running.port, scenario)


def test_second_hello_closes_session(running: RunningServer) -> None:
    async def scenario(raw: RawSession) -> bool:
        await raw.hello()
        raw.send(
            f'<hello xmlns="{NC}"><capabilities><capability>{BASE11}</capability>'
            "</capabilities></hello>".encode()
        )
        return await raw.closed()

    assert run_raw(running.port, scenario)


def test_malformed_hello_closes_session(running: RunningServer) -> None:
    for bad in (
        b"<hello",  # not XML
        f'<hello xmlns="{NC}"><capabilities/></hello>'.encode(),  # no base capability
        f'<hello xmlns="{NC}"><capabilities><capability>{BASE10}</capability></capabilities>'
        "<session-id>4</session-id></hello>".encode(),  # a client must not send a session-id
        f'<rpc xmlns="{NC}" message-id="1"><get/></rpc>'.encode(),  # rpc before hello
    ):

        async def scenario(raw: RawSession, bad: bytes = bad) -> bool:
            await raw.read_message()
            raw.writer.write(bad + b"]]>]]>")
            return await raw.closed()

        assert run_raw(running.port, scenario), bad


def test_rpc_attributes_echoed_and_any_prefix(running: RunningServer) -> None:
    async def scenario(raw: RawSession) -> etree._Element:
        await raw.hello()
        raw.send(
            f'<nc:rpc xmlns:nc="{NC}" xmlns:ex="urn:example" message-id="abc" ex:user-id="fred"'
            ' other="x"><nc:get-config><nc:source><nc:running/></nc:source></nc:get-config>'
            "</nc:rpc>".encode()
        )
        reply = await raw.read_message()
        assert reply is not None
        return etree.fromstring(reply)

    reply = run_raw(running.port, scenario)
    assert reply.tag == f"{{{NC}}}rpc-reply"
    assert reply.get("message-id") == "abc"
    assert reply.get("{urn:example}user-id") == "fred"
    assert reply.get("other") == "x"
    assert reply.find(f"{{{NC}}}data") is not None


def test_missing_message_id(running: RunningServer) -> None:
    async def scenario(raw: RawSession) -> tuple[etree._Element, etree._Element]:
        await raw.hello()
        raw.send(f'<rpc xmlns="{NC}"><get/></rpc>'.encode())
        first = await raw.read_message()
        assert first is not None
        return etree.fromstring(first), await raw.rpc(GET_CONFIG)

    reply, after = run_raw(running.port, scenario)
    assert error_tags(reply) == ["missing-attribute"]
    assert reply.findtext(f".//{{{NC}}}bad-attribute") == "message-id"
    assert after.find(f"{{{NC}}}data") is not None


BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    f'<rpc xmlns="{NC}" message-id="1"><get><filter>&lol3;</filter></get></rpc>'
)
XXE = (
    '<?xml version="1.0"?><!DOCTYPE rpc [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    f'<rpc xmlns="{NC}" message-id="1"><get-config><source><running/></source>'
    f'<filter><product-analytics xmlns="{PA}">&xxe;</product-analytics></filter>'
    "</get-config></rpc>"
)


def test_malformed_xml_and_attacks_get_malformed_message(running: RunningServer) -> None:
    async def scenario(raw: RawSession) -> list[bytes]:
        await raw.hello()
        replies = []
        for bad in (f'<rpc xmlns="{NC}" message-id="1"><get>', BILLION_LAUGHS, XXE):
            raw.send(bad.encode())
            reply = await raw.read_message()
            assert reply is not None
            replies.append(reply)
        ok = await raw.rpc(GET_CONFIG)
        assert ok.find(f"{{{NC}}}data") is not None
        return replies

    for reply in run_raw(running.port, scenario):
        assert error_tags(etree.fromstring(reply)) == ["malformed-message"]
        assert b"root:" not in reply and b"lollol" not in reply


def test_base10_client_never_gets_malformed_message(running: RunningServer) -> None:
    async def scenario(raw: RawSession) -> etree._Element:
        await raw.hello(base11=False)
        raw.decoder = type(raw.decoder)(1 << 20)
        raw.send(b"<rpc")
        reply = await raw.read_message()
        assert reply is not None
        return etree.fromstring(reply)

    reply = run_raw(running.port, scenario)
    assert error_tags(reply) == ["operation-failed"]


def test_unknown_operations(running: RunningServer) -> None:
    async def scenario(raw: RawSession) -> list[etree._Element]:
        await raw.hello()
        return [
            await raw.rpc("<frobnicate/>"),
            await raw.rpc('<frobnicate xmlns="urn:example:unknown"/>'),
            await raw.rpc(f'<frobnicate xmlns="{PA}"/>'),
            await raw.rpc(GET_CONFIG),
        ]

    base_unknown, unknown_ns, pa_unknown, ok = run_raw(running.port, scenario)
    assert error_tags(base_unknown) == ["unknown-element"]
    assert base_unknown.findtext(f".//{{{NC}}}bad-element") == "frobnicate"
    assert error_tags(unknown_ns) == ["unknown-namespace"]
    assert error_tags(pa_unknown) == ["unknown-element"]
    assert ok.find(f"{{{NC}}}data") is not None


def test_rpc_of_schema_without_handler_is_not_supported(running: RunningServer) -> None:
    # generate-report is defined by our module; no engine registered a handler here
    async def scenario(raw: RawSession) -> etree._Element:
        await raw.hello()
        return await raw.rpc(f'<generate-report xmlns="{PA}"/>')

    assert error_tags(run_raw(running.port, scenario)) == ["operation-not-supported"]


def test_close_session_then_eof(running: RunningServer) -> None:
    async def scenario(raw: RawSession) -> tuple[etree._Element, bool]:
        await raw.hello()
        reply = await raw.rpc("<close-session/>")
        return reply, await raw.closed()

    reply, closed = run_raw(running.port, scenario)
    assert reply.find(f"{{{NC}}}ok") is not None
    assert closed


def test_session_reaped_when_channel_closes(running: RunningServer) -> None:
    async def scenario() -> None:
        raw = await RawSession.open(running.port)
        await raw.hello()
        await raw.rpc(GET_CONFIG)
        raw.close()
        await raw.conn.wait_closed()

    asyncio.run(scenario())
    for _ in range(200):
        if not running.run(lambda: dict(running.server.sessions)):
            break
        asyncio.run(asyncio.sleep(0.01))
    assert running.run(lambda: dict(running.server.sessions)) == {}
    assert running.run(lambda: running.server.stats.dropped_sessions) == 1


def test_hello_and_idle_timeouts(tmp_path: Path) -> None:
    config = ServerConfig(host="127.0.0.1", port=0, hello_timeout=0.2, idle_timeout=0.2)
    server = RunningServer(tmp_path / "s", config=config)
    try:

        async def silent(raw: RawSession) -> bool:
            await raw.read_message()
            return await raw.closed()

        async def idle(raw: RawSession) -> bool:
            await raw.hello()
            await raw.rpc(GET_CONFIG)
            return await raw.closed()

        assert run_raw(server.port, silent)
        assert run_raw(server.port, idle)
        assert server.run(lambda: server.server.stats.in_bad_hellos) == 1
    finally:
        server.stop()


@pytest.mark.parametrize("base11", [True, False])
def test_message_over_the_size_cap_gets_too_big_and_the_session_goes_on(
    tmp_path: Path, base11: bool
) -> None:
    server = RunningServer(
        tmp_path / "s", config=ServerConfig(host="127.0.0.1", port=0, max_message_size=4096)
    )
    try:

        async def scenario(raw: RawSession) -> tuple[list[str], etree._Element, bool]:
            await raw.hello(base11=base11)
            body = f"<get-config><source><running/></source></get-config><x>{'x' * 10_000}</x>"
            raw.send(f'<rpc xmlns="{NC}" message-id="big">{body}</rpc>'.encode())
            too_big = await raw.read_message()
            assert too_big is not None
            after = await raw.rpc(GET_CONFIG, "2")
            raw.send(b"<hello/>" * 1000)  # oversize again, and not even an rpc
            await raw.read_message()
            return error_tags(etree.fromstring(too_big)), after, raw.decoder.pending == 0

        tags, after, drained = run_raw(server.port, scenario)
        assert tags == ["too-big"]
        assert after.get("message-id") == "2" and after.find(f"{{{NC}}}data") is not None
        assert drained
        stats = server.run(lambda: server.server.stats.in_bad_rpcs)
        assert stats == 2
    finally:
        server.stop()


def test_oversize_hello_closes_the_session(tmp_path: Path) -> None:
    server = RunningServer(
        tmp_path / "s", config=ServerConfig(host="127.0.0.1", port=0, max_message_size=4096)
    )
    try:

        async def scenario(raw: RawSession) -> bool:
            await raw.read_message()  # the server's hello
            caps = f"<capability>{BASE10}</capability>" * 200
            raw.writer.write(
                f'<hello xmlns="{NC}"><capabilities>{caps}</capabilities></hello>]]>]]>'.encode()
            )
            return await raw.closed()

        assert run_raw(server.port, scenario)
    finally:
        server.stop()


def test_wrong_password_is_refused(running: RunningServer) -> None:
    import asyncssh
    import pytest

    async def scenario() -> None:
        await RawSession.open(running.port, password="wrong")

    with pytest.raises(asyncssh.PermissionDenied):
        asyncio.run(scenario())


def test_pipelining_client_does_not_starve_other_sessions(running: RunningServer) -> None:
    """A client that pipelines many RPCs in one write shares the server with the others:
    another session's RPC is answered long before the pipeline is through."""
    count = 2000

    async def main() -> tuple[list[float], float]:
        busy, other = await RawSession.open(running.port), await RawSession.open(running.port)
        try:
            await busy.hello()
            await other.hello()
            busy.writer.write(
                b"".join(
                    encode_chunked(
                        f'<rpc xmlns="{NC}" message-id="{i}">{GET_CONFIG}</rpc>'.encode()
                    )
                    for i in range(count)
                )
            )
            arrivals: list[float] = []
            first = await busy.read_message()  # the server is inside the pipeline now
            assert first is not None
            loop = asyncio.get_running_loop()
            arrivals.append(loop.time())

            async def read_rest() -> None:
                while len(arrivals) < count:
                    assert await busy.read_message(timeout=30) is not None
                    arrivals.append(loop.time())

            rest = asyncio.create_task(read_rest())
            reply = await other.rpc(GET_CONFIG, "other")
            answered = loop.time()
            assert reply.find(f"{{{NC}}}data") is not None
            await rest
            return arrivals, answered
        finally:
            busy.close()
            other.close()

    arrivals, answered = asyncio.run(main())
    before = sum(1 for t in arrivals if t <= answered)
    assert before < count // 4, f"{before} of {count} pipelined replies came first"
