"""The cached read paths (get, get-config) never serve a stale reply, and the speed-ups of the
hot path (reply cache, copy check, parser depth shortcut, write coalescing, idle timer) keep
the protocol behaviour."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from ncclient import manager
from server_helpers import NC, PA, RawSession, RunningServer, data_of, error_tags, run_raw

from agent.api import Registry, RpcContext, StateRequest
from agent.config import ServerConfig
from agent.datatree.copying import append_copy
from agent.server.readcache import ReplyCache
from agent.server.requestmemo import Request, RequestMemo, recognise, split_message_id
from agent.server.ssh import CoalescingTransport
from agent.server.xmlparse import HardenedParser, XmlError

NCM = "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"
WD = "urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults"
COUNTER_NS = "urn:test:counter"


def _storage(m: manager.Manager, source: str) -> str | None:
    data = data_of(m.get_config(source=source))
    return data.findtext(f"{{{PA}}}product-analytics/{{{PA}}}storage")


def _storage_config(value: str) -> str:
    return (
        f'<config xmlns="{NC}"><product-analytics xmlns="{PA}">'
        f"<storage>{value}</storage></product-analytics></config>"
    )


def _hits(running: RunningServer) -> int:
    """Reads served from a cache: the reply cache, or the request memo in front of it."""
    server = running.server
    return running.run(lambda: server.reply_cache.hits + server.request_memo.hits)


def test_get_config_after_an_edit_sees_the_edit(
    running: RunningServer, connect: Callable[..., manager.Manager]
) -> None:
    m = connect()
    pa_filter = ("subtree", f'<product-analytics xmlns="{PA}"/>')
    for _ in range(2):  # the second of each is served from the cache
        assert _storage(m, "running") is None
        assert data_of(m.get(filter=pa_filter)).find(f"{{{PA}}}product-analytics") is None
    hits = _hits(running)
    assert hits >= 2
    m.edit_config(target="running", config=_storage_config("in-memory"))
    assert _storage(m, "running") == "in-memory"
    assert _storage(m, "candidate") == "in-memory"  # candidate follows running when clean
    got = data_of(m.get(filter=pa_filter))
    assert got.findtext(f"{{{PA}}}product-analytics/{{{PA}}}storage") == "in-memory"
    # the candidate: an edit there shows in candidate only, a commit in running
    m.edit_config(target="candidate", config=_storage_config("on-disk"))
    assert _storage(m, "candidate") == "on-disk"
    assert _storage(m, "running") == "in-memory"
    m.commit()
    assert _storage(m, "running") == "on-disk"
    # startup: written by copy-config, deleted by delete-config
    assert _storage(m, "startup") is None
    m.copy_config(source="running", target="startup")
    assert _storage(m, "startup") == "on-disk"
    m.delete_config(target="startup")
    assert _storage(m, "startup") is None
    # another session sees the same, fresh content
    assert _storage(connect(), "running") == "on-disk"


def test_with_defaults_and_filters_are_part_of_the_key(
    connect: Callable[..., manager.Manager],
) -> None:
    m = connect()
    m.edit_config(target="running", config=_storage_config("in-memory"))

    def get_config(extra: str) -> etree._Element:
        reply: Any = m.dispatch(
            etree.fromstring(
                f'<get-config xmlns="{NC}"><source><running/></source>{extra}</get-config>'
            )
        )
        return data_of(reply)

    report_all = f'<with-defaults xmlns="{WD}">report-all</with-defaults>'
    for _ in range(2):
        plain = get_config("")
        full = get_config(report_all)
        assert len(list(full.iter())) > len(list(plain.iter()))
        only_storage = get_config(
            f'<filter><product-analytics xmlns="{PA}"><storage/></product-analytics></filter>'
        )
        leaves = [e for e in only_storage.iter() if len(e) == 0]
        assert [etree.QName(e).localname for e in leaves] == ["storage"]


def test_changing_monitoring_state_is_never_served_from_the_cache(
    running: RunningServer, connect: Callable[..., manager.Manager]
) -> None:
    m = connect()
    stats = ("subtree", f'<netconf-state xmlns="{NCM}"><statistics/></netconf-state>')
    counts = [
        int(data_of(m.get(filter=stats)).findtext(f".//{{{NCM}}}in-rpcs") or "0") for _ in range(3)
    ]
    assert counts[0] < counts[1] < counts[2]
    sessions = ("subtree", f'<netconf-state xmlns="{NCM}"><sessions/></netconf-state>')
    before = len(data_of(m.get(filter=sessions)).findall(f".//{{{NCM}}}session"))
    other = connect()
    after = len(data_of(m.get(filter=sessions)).findall(f".//{{{NCM}}}session"))
    assert after == before + 1
    other.close_session()
    locks = ("subtree", f'<netconf-state xmlns="{NCM}"><datastores/></netconf-state>')
    assert data_of(m.get(filter=locks)).find(f".//{{{NCM}}}global-lock") is None
    m.lock(target="running")
    assert data_of(m.get(filter=locks)).find(f".//{{{NCM}}}global-lock") is not None
    m.unlock(target="running")
    assert data_of(m.get(filter=locks)).find(f".//{{{NCM}}}global-lock") is None


def test_schemas_are_served_from_the_cache_unchanged(
    running: RunningServer, connect: Callable[..., manager.Manager]
) -> None:
    m = connect()
    schemas = ("subtree", f'<netconf-state xmlns="{NCM}"><schemas/></netconf-state>')
    first = m.get(filter=schemas).xml
    hits = _hits(running)
    second = m.get(filter=schemas).xml
    assert _hits(running) == hits + 1
    # same body (the message-id differs)
    assert first.split("<data", 1)[1] == second.split("<data", 1)[1]
    assert "<schema>" in first or ":schema>" in first


class _Counter:
    """A state provider whose value changes when ``value`` changes; it vouches for its state
    only when ``vouch`` is set."""

    namespace = COUNTER_NS
    name = "counter"

    def __init__(self) -> None:
        self.value = 0
        self.vouch = True
        self.calls = 0

    def state_token(self, request: StateRequest) -> Hashable | None:
        return ("counter", self.value) if self.vouch else None

    def get_state(self, request: StateRequest) -> etree._Element | None:
        self.calls += 1
        element = etree.Element(f"{{{COUNTER_NS}}}counter", nsmap={None: COUNTER_NS})  # type: ignore[dict-item]
        etree.SubElement(element, f"{{{COUNTER_NS}}}value").text = str(self.value)
        return element


class _Unvouched:
    """A provider without ``state_token``: its state is read at every get."""

    namespace = "urn:test:clock"
    name = "clock"

    def __init__(self) -> None:
        self.calls = 0

    def get_state(self, request: StateRequest) -> etree._Element | None:
        self.calls += 1
        element = etree.Element("{urn:test:clock}clock", nsmap={None: "urn:test:clock"})  # type: ignore[dict-item]
        element.text = str(self.calls)
        return element


def test_provider_state_is_cached_only_while_the_provider_vouches_for_it(
    tmp_path: Path,
) -> None:
    counter, clock = _Counter(), _Unvouched()
    registry = Registry()
    registry.add_state_provider(counter)
    registry.add_state_provider(clock)
    server = RunningServer(tmp_path / "s", registry=registry)
    try:
        m = server.connect()
        only_counter = ("subtree", f'<counter xmlns="{COUNTER_NS}"/>')

        def value() -> str | None:
            return data_of(m.get(filter=only_counter)).findtext(f".//{{{COUNTER_NS}}}value")

        assert value() == "0"
        assert value() == "0"
        assert server.run(lambda: counter.calls) == 1  # the second came from the cache
        server.run(lambda: setattr(counter, "value", 7))
        assert value() == "7"  # a new token: read again
        server.run(lambda: setattr(counter, "vouch", False))
        assert value() == "7"
        assert value() == "7"
        assert server.run(lambda: counter.calls) == 4  # no token: read at every get
        # a get that selects a provider without state_token is never cached
        texts = [data_of(m.get()).findtext("{urn:test:clock}clock") for _ in range(3)]
        assert texts == ["1", "2", "3"]
        m.close_session()
    finally:
        server.stop()


def test_reply_cache_evicts_least_recently_used() -> None:
    cache = ReplyCache(max_entries=2, max_bytes=100)
    cache.put("a", b"1" * 10)
    cache.put("b", b"2" * 10)
    assert cache.get("a") == b"1" * 10  # a is now the most recent
    cache.put("c", b"3" * 10)
    assert cache.get("b") is None and cache.get("a") is not None and cache.get("c") is not None
    cache.put("big", b"x" * 26)  # over a quarter of the byte budget: not kept
    assert cache.get("big") is None
    cache.put("d", b"4" * 25)
    cache.put("e", b"5" * 25)
    assert len(cache) == 2
    cache.put("f", b"6" * 25)
    cache.put("g", b"7" * 25)
    cache.put("h", b"8" * 25)
    assert len(cache) <= 2 and cache.get("h") == b"8" * 25
    cache.clear()
    assert len(cache) == 0


# -- copying ----------------------------------------------------------------------------


def _leaf_namespace(root: etree._Element, tag: str) -> tuple[str | None, str | None]:
    leaf = root.find(f".//{tag}")
    assert leaf is not None
    prefix = (leaf.text or "").partition(":")[0]
    return prefix, leaf.nsmap.get(prefix)


def test_copy_keeps_a_prefix_declared_on_the_top_when_the_parent_has_its_namespace() -> None:
    # lxml drops the top's xmlns:y on append (the parent declares urn:a as x already)
    parent = etree.Element("{urn:p}data", nsmap={"x": "urn:a"})  # type: ignore[dict-item]
    node = etree.fromstring('<t xmlns="urn:t" xmlns:y="urn:a"><leaf>y:value</leaf></t>')
    append_copy(parent, node)
    assert _leaf_namespace(parent, "{urn:t}leaf") == ("y", "urn:a")


def test_copy_keeps_a_prefix_declared_on_an_ancestor_only() -> None:
    doc = etree.fromstring('<r xmlns:y="urn:a"><t xmlns="urn:t"><leaf>y:value</leaf></t></r>')
    parent = etree.Element("{urn:p}data")
    append_copy(parent, doc[0])
    assert _leaf_namespace(parent, "{urn:t}leaf") == ("y", "urn:a")


def test_copy_keeps_a_shadowing_declaration_below_the_top() -> None:
    # y means urn:a on the top and urn:b below it; the parent declares urn:b as y too
    parent = etree.Element("{urn:p}data", nsmap={"y": "urn:b"})  # type: ignore[dict-item]
    node = etree.fromstring(
        '<t xmlns="urn:t" xmlns:y="urn:a"><a>y:one</a>'
        '<inner xmlns:y="urn:b"><b>y:two</b></inner></t>'
    )
    append_copy(parent, node)
    assert _leaf_namespace(parent, "{urn:t}a") == ("y", "urn:a")
    assert _leaf_namespace(parent, "{urn:t}b") == ("y", "urn:b")


def test_copy_of_a_subtree_without_prefixed_values_is_exact() -> None:
    node = etree.fromstring(
        '<schemas xmlns="urn:m">'
        + "".join(
            f"<schema><identifier>m{i}</identifier><namespace>urn:x:m{i}</namespace></schema>"
            for i in range(40)
        )
        + "</schemas>"
    )
    parent = etree.Element("{urn:p}data", nsmap={None: "urn:p"})  # type: ignore[dict-item]
    clone = append_copy(parent, node)
    assert [(e.tag, e.text, e.nsmap) for e in clone.iter()] == [
        (e.tag, e.text, e.nsmap) for e in node.iter()
    ]


# -- parser depth shortcut --------------------------------------------------------------


def test_the_shortest_too_deep_message_is_refused() -> None:
    parser = HardenedParser(1_000_000, max_depth=10)
    shortest = b"<a>" * 10 + b"<a/>" + b"</a>" * 10  # 11 levels in the fewest bytes
    with pytest.raises(XmlError):
        parser.parse(shortest)
    parser.parse(b"<a>" * 9 + b"<a/>" + b"</a>" * 9)  # 10 levels is fine
    utf16 = ('<?xml version="1.0" encoding="UTF-16"?>' + "<a>" * 11 + "</a>" * 11).encode("utf-16")
    with pytest.raises(XmlError):
        parser.parse(utf16)


# -- write coalescing -------------------------------------------------------------------


def test_coalescing_transport_keeps_order_and_batches() -> None:
    async def scenario() -> bytes:
        left, right = socket.socketpair()
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_connection(asyncio.Protocol, sock=left)
        assert isinstance(transport, asyncio.Transport)
        wrapped = CoalescingTransport(transport)
        wrapped.write(b"1")
        with wrapped.batch():
            wrapped.write(b"2")
            with wrapped.batch():  # nested: the outer batch writes
                wrapped.write(b"3")
            wrapped.write(b"4")
        wrapped.write(b"5")
        assert wrapped.get_extra_info("socket") is not None  # passes through
        await asyncio.sleep(0)
        right.setblocking(False)
        received = b""
        deadline = time.monotonic() + 5
        while len(received) < 5 and time.monotonic() < deadline:
            try:
                received += right.recv(100)
            except BlockingIOError:
                await asyncio.sleep(0.01)
        wrapped.close()
        right.close()
        return received

    assert asyncio.run(scenario()) == b"12345"


# -- idle timeout -----------------------------------------------------------------------


def test_a_slow_rpc_is_not_cut_by_the_idle_timeout(tmp_path: Path) -> None:
    registry = Registry()

    async def slow(context: RpcContext, op: etree._Element) -> list[etree._Element]:
        await asyncio.sleep(0.6)
        return []

    registry.add_rpc("urn:test:slow", "slow", slow)
    config = ServerConfig(host="127.0.0.1", port=0, idle_timeout=0.3)
    server = RunningServer(tmp_path / "s", config=config, registry=registry)
    try:

        async def scenario(raw: RawSession) -> tuple[bool, bool]:
            await raw.hello()
            reply = await raw.rpc('<slow xmlns="urn:test:slow"/>')
            ok = reply.find(f"{{{NC}}}ok") is not None
            await asyncio.sleep(0.1)  # idle, but less than the timeout: still served
            again = await raw.rpc('<slow xmlns="urn:test:slow"/>', message_id="2")
            ok = ok and again.find(f"{{{NC}}}ok") is not None
            return ok, await raw.closed()  # then idle: closed after the timeout

        assert run_raw(server.port, scenario) == (True, True)
    finally:
        server.stop()


def test_filters_that_differ_only_in_prefix_bindings_are_not_confused(
    connect: Callable[..., manager.Manager],
) -> None:
    m = connect()
    m.edit_config(target="running", config=_storage_config("in-memory"))

    def get(namespace: str) -> etree._Element:
        reply: Any = m.dispatch(
            etree.fromstring(
                f'<get xmlns="{NC}"><filter type="xpath" xmlns:p="{namespace}" '
                'select="/p:product-analytics/p:storage"/></get>'
            )
        )
        return data_of(reply)

    for _ in range(2):
        assert get(PA).findtext(f".//{{{PA}}}storage") == "in-memory"
        assert len(get("urn:test:other")) == 0


@pytest.mark.parametrize(
    ("message", "parts"),
    [
        (b'<rpc message-id="101" xmlns="x"><get/></rpc>', (b'<rpc message-id="', b"101")),
        (b"<rpc message-id='urn:uuid:1-2'><get/></rpc>", (b"<rpc message-id='", b"urn:uuid:1-2")),
        (b'<rpc message-id="a b"><get/></rpc>', None),  # needs no escaping: spaces do not
        (b'<rpc message-id="a&amp;b"><get/></rpc>', None),
        (b'<rpc message-id=""><get/></rpc>', None),
        (b'<rpc><get message-id="1"/><x message-id="1"/></rpc>', None),  # twice
        (b'<!-- message-id="1" --><rpc message-id="1"><get/></rpc>', None),
        (b'<rpc message-id = "1"><get/></rpc>', None),  # legal XML, just not recognised
        (b'<rpc message-id="1"><get/></rpc>' + b" " * 5000, None),  # too long to keep
        (b'<?xml version="1.0" encoding="UTF-8"?><rpc message-id="7"/>', (b"<?xml", b"7")),
        (b"<?xml version='1.0' encoding='ISO-8859-1'?><rpc message-id='7'/>", None),
        ('<rpc message-id="1"/>'.encode("utf-16-le"), None),
        (b"\xff\xfe" + '<rpc message-id="1"/>'.encode("utf-16-le"), None),
        ('<rpc message-id="1"/>'.encode("utf-16-be"), None),
    ],
)
def test_request_memo_recognises_only_a_plain_single_message_id(
    message: bytes, parts: tuple[bytes, bytes] | None
) -> None:
    split = split_message_id(message)
    if parts is None:
        assert split is None
    else:
        assert split is not None and split[0].startswith(parts[0]) and split[1] == parts[1]
        assert b"".join(split) == message


def _request(username: str, message: bytes) -> Request:
    request = recognise(username, message)
    assert request is not None
    return request


def test_request_memo_keys_on_user_and_bytes_and_obeys_its_condition() -> None:
    memo = RequestMemo(max_entries=2)
    valid = [True]
    request = b'<rpc message-id="1" xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><get/></rpc>'
    start = b'<?xml version="1.0"?>\n<rpc-reply message-id="1" xmlns="urn:x">'
    memo.remember(
        _request("alice", request), start, [b"<data/>", b"</rpc-reply>"], lambda: valid[0]
    )
    again = request.replace(b'"1"', b'"2"', 1)
    assert memo.reply(_request("alice", again)) == (
        start.replace(b'"1"', b'"2"') + b"<data/></rpc-reply>"
    )
    assert memo.reply(_request("bob", again)) is None  # another user never shares a reply
    assert memo.reply(_request("alice", again.replace(b"<get/>", b"<get></get>"))) is None
    valid[0] = False
    assert memo.reply(_request("alice", again)) is None  # the state changed: forgotten
    assert len(memo) == 0
    for n in range(3):  # least recently used out first
        other = _request("alice", request.replace(b"get", b"g%d" % n))
        memo.remember(other, start, [b""], lambda: True)
    assert len(memo) == 2
    small = RequestMemo(max_bytes=4 * (len(start) + 10))  # room for four such replies
    for n in range(6):
        other = _request("a", request.replace(b"get", b"g%d" % n))
        small.remember(other, start, [b"x" * 10], lambda: True)
    assert len(small) == 4
    # over a quarter of the budget: not kept
    small.remember(_request("a", request), start, [b"x" * 11], lambda: True)
    assert small.reply(_request("a", request)) is None


def test_repeated_reads_are_answered_from_the_request_memo_and_stay_fresh(
    running: RunningServer, connect: Callable[..., manager.Manager]
) -> None:
    m = connect()
    memo_hits = lambda: running.run(lambda: running.server.request_memo.hits)  # noqa: E731
    replies = [m.get_config(source="running") for _ in range(3)]
    assert memo_hits() == 2
    # each answers its own request (ncclient matches replies to requests by message-id)
    ids = {etree.fromstring(reply.xml.encode()).get("message-id") for reply in replies}
    assert len(ids) == 3
    m.edit_config(target="running", config=_storage_config("in-memory"))
    assert _storage(m, "running") == "in-memory"  # the edit made the memo's reply stale
    assert _storage(m, "running") == "in-memory"

    # a message-id given twice (here also on the operation) is never answered from the memo
    async def twice(raw: RawSession) -> list[str | None]:
        await raw.hello()
        body = '<get-config message-id="9"><source><running/></source></get-config>'
        replies = [await raw.rpc(body, message_id="9") for _ in range(2)]
        return [r.get("message-id") for r in replies]

    before = memo_hits()
    assert run_raw(running.port, twice) == ["9", "9"]
    assert memo_hits() == before

    async def plain(raw: RawSession) -> list[str | None]:
        await raw.hello()
        body = "<get-config><source><running/></source></get-config>"
        return [(await raw.rpc(body, message_id=f"m{n}")).get("message-id") for n in range(3)]

    assert run_raw(running.port, plain) == ["m0", "m1", "m2"]
    assert memo_hits() == before + 2


def _utf16_rpc(message_id: str, note: str) -> bytes:
    """A get-config in UTF-16LE whose attribute ``note`` is made of characters whose bytes
    read, as ASCII, ``note`` itself: ``message-id`` bytes outside the rpc's attribute."""
    disguised = note.encode().decode("utf-16-le")
    text = (
        f'<rpc xmlns="{NC}" message-id="{message_id}" note="{disguised}">'
        "<get-config><source><running/></source></get-config></rpc>"
    )
    return b"\xff\xfe" + text.encode("utf-16-le")


def test_request_memo_never_answers_requests_in_other_encodings(running: RunningServer) -> None:
    async def scenario(raw: RawSession) -> list[etree._Element]:
        await raw.hello()
        replies = []
        for note in ('message-id="1"', 'message-id="2"'):
            raw.send(_utf16_rpc("1", note))
            reply = await raw.read_message()
            assert reply is not None
            replies.append(etree.fromstring(reply))
        return replies

    replies = run_raw(running.port, scenario)
    assert [r.get("message-id") for r in replies] == ["1", "1"]
    assert replies[1].get("note") == b'message-id="2"'.decode("utf-16-le")
    assert running.run(lambda: running.server.request_memo.hits) == 0


class _Failing:
    """A provider whose state token fails from its third call on."""

    namespace = "urn:test:failing"
    name = "failing"

    def __init__(self) -> None:
        self.calls = 0

    def state_token(self, request: StateRequest) -> Hashable | None:
        self.calls += 1
        if self.calls > 2:
            raise OSError("backing store unavailable")
        return ("failing", 1)

    def get_state(self, request: StateRequest) -> etree._Element | None:
        element = etree.Element("{urn:test:failing}failing", nsmap={None: "urn:test:failing"})  # type: ignore[dict-item]
        element.text = "v"
        return element


def test_failing_state_token_is_an_rpc_error_not_a_lost_session(tmp_path: Path) -> None:
    registry = Registry()
    registry.add_state_provider(_Failing())
    server = RunningServer(tmp_path / "s", registry=registry)
    body = '<get><filter type="subtree"><failing xmlns="urn:test:failing"/></filter></get>'
    try:

        async def scenario(raw: RawSession) -> list[list[str]]:
            await raw.hello()
            tags = [error_tags(await raw.rpc(body, message_id=str(n))) for n in range(3)]
            tags.append(
                error_tags(
                    await raw.rpc(
                        "<get-config><source><running/></source></get-config>", message_id="4"
                    )
                )
            )
            return tags

        assert run_raw(server.port, scenario) == [[], [], ["operation-failed"], []]
    finally:
        server.stop()
