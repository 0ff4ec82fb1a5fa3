"""RFC 6241 Appendix A errors: tag, type, info, path; the session works afterwards."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from lxml import etree
from ncclient.operations.rpc import RPCError
from server_helpers import NC, PA, RawSession, RunningServer, error_tags, run_raw

Connect = Callable[..., Any]


def edit(body: str, *, target: str = "running", extra: str = "") -> str:
    return (
        f'<edit-config xmlns="{NC}"><target><{target}/></target>{extra}'
        f'<config><product-analytics xmlns="{PA}">{body}</product-analytics></config>'
        "</edit-config>"
    )


CASES = [
    # (name, rpc body, error-tag, error-type, (info name, info value) or None, path part)
    ("unknown parameter", f'<get xmlns="{NC}"><verbose/></get>', "unknown-element", "protocol",
     ("bad-element", "verbose"), None),
    ("unknown element in config", edit("<colour>red</colour>"), "unknown-element", "application",
     ("bad-element", "colour"), "colour"),
    ("unknown namespace in config",
     f'<edit-config xmlns="{NC}"><target><running/></target><config>'
     '<gadget xmlns="urn:example:gadget"/></config></edit-config>',
     "unknown-namespace", "application", ("bad-namespace", "urn:example:gadget"), None),
    ("bad value", edit("<storage>cloud</storage>"), "invalid-value", "application", None,
     "/pa:product-analytics/pa:storage"),
    ("range", edit("<transport><retry><max-interval>0</max-interval></retry></transport>"),
     "invalid-value", "application", None, "max-interval"),
    ("missing source", f'<get-config xmlns="{NC}"/>', "missing-element", "protocol",
     ("bad-element", "source"), None),
    ("missing config", f'<edit-config xmlns="{NC}"><target><running/></target></edit-config>',
     "missing-element", "protocol", ("bad-element", "config"), None),
    ("leaf with children", edit("<enabled><x/></enabled>"), "bad-element", "application",
     ("bad-element", "enabled"), "enabled"),
    ("bad operation attribute",
     edit(f'<enabled xmlns:nc="{NC}" nc:operation="explode">true</enabled>'),
     "bad-attribute", "protocol", ("bad-attribute", "operation"), None),
    ("data-missing", edit(f'<enabled xmlns:nc="{NC}" nc:operation="delete"/>'), "data-missing",
     "application", None, "enabled"),
    ("bad default-operation", edit("", extra="<default-operation>all</default-operation>"),
     "invalid-value", "protocol", None, None),
    ("url not supported",
     f'<copy-config xmlns="{NC}"><target><url>file:///x</url></target><source><running/>'
     "</source></copy-config>", "operation-not-supported", "protocol", None, None),
    ("edit startup", edit("<enabled>true</enabled>", target="startup"), "invalid-value",
     "protocol", None, None),
    ("unlock not locked", f'<unlock xmlns="{NC}"><target><running/></target></unlock>',
     "operation-failed", "protocol", None, None),
    ("cancel-commit without pending", f'<cancel-commit xmlns="{NC}"/>', "operation-failed",
     "protocol", None, None),
    # found by fuzzing: integers int() refuses, repeated parameters, bad inline configs
    ("session-id not ASCII", f'<kill-session xmlns="{NC}"><session-id>\u00b2</session-id>'
     "</kill-session>", "invalid-value", "protocol", None, None),
    ("session-id 5000 digits", f'<kill-session xmlns="{NC}"><session-id>{"1" * 5000}'
     "</session-id></kill-session>", "invalid-value", "protocol", None, None),
    ("confirm-timeout not ASCII", f'<commit xmlns="{NC}"><confirmed/><confirm-timeout>\u00b2'
     "</confirm-timeout></commit>", "invalid-value", "protocol", None, "confirm-timeout"),
    ("confirm-timeout 5000 digits", f'<commit xmlns="{NC}"><confirmed/><confirm-timeout>'
     f'{"9" * 5000}</confirm-timeout></commit>', "invalid-value", "protocol", None, None),
    ("leaf 5000 digits",
     edit(f"<transport><retry><max-attempts>{'1' * 5000}</max-attempts></retry></transport>"),
     "invalid-value", "application", None, "max-attempts"),
    ("target twice", f'<edit-config xmlns="{NC}"><target><candidate/></target><target><running/>'
     f'</target><config><product-analytics xmlns="{PA}"/></config></edit-config>',
     "bad-element", "protocol", ("bad-element", "target"), None),
    ("default-operation twice",
     edit("", extra="<default-operation>merge</default-operation>"
          "<default-operation>bogus</default-operation>"),
     "bad-element", "protocol", ("bad-element", "default-operation"), None),
    ("source names a datastore and a config",
     f'<copy-config xmlns="{NC}"><target><candidate/></target><source><running/><config/>'
     "</source></copy-config>", "bad-element", "protocol", ("bad-element", "source"), None),
    ("copy-config leaf twice",
     f'<copy-config xmlns="{NC}"><target><running/></target><source><config>'
     f'<product-analytics xmlns="{PA}"><enabled>true</enabled><enabled>false</enabled>'
     "</product-analytics></config></source></copy-config>",
     "bad-element", "application", ("bad-element", "enabled"), "enabled"),
    ("copy-config container twice",
     f'<copy-config xmlns="{NC}"><target><running/></target><source><config>'
     f'<product-analytics xmlns="{PA}"><enabled>true</enabled></product-analytics>'
     f'<product-analytics xmlns="{PA}"/></config></source></copy-config>',
     "bad-element", "application", ("bad-element", "product-analytics"), None),
    ("copy-config text in a container",
     f'<copy-config xmlns="{NC}"><target><running/></target><source><config>'
     f'<product-analytics xmlns="{PA}">junk<enabled>true</enabled></product-analytics>'
     "</config></source></copy-config>",
     "bad-element", "application", ("bad-element", "product-analytics"),
     "/pa:product-analytics"),
    ("validate leaf twice",
     f'<validate xmlns="{NC}"><source><config><product-analytics xmlns="{PA}">'
     "<storage>in-memory</storage><storage>on-disk</storage></product-analytics></config>"
     "</source></validate>", "bad-element", "application", ("bad-element", "storage"), None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "body", "tag", "error_type", "info", "path"), CASES, ids=[c[0] for c in CASES]
)
def test_error(
    connect: Connect,
    name: str,
    body: str,
    tag: str,
    error_type: str,
    info: tuple[str, str] | None,
    path: str | None,
) -> None:
    m = connect()
    with pytest.raises(RPCError) as caught:
        m.dispatch(etree.fromstring(body))
    error = caught.value
    assert error.tag == tag, error.xml
    assert error.type == error_type, error.xml
    assert error.severity == "error"
    if info is not None:
        element = etree.fromstring(error.xml.encode()) if isinstance(error.xml, str) else error.xml
        assert element.findtext(f".//{{{NC}}}error-info/{{{NC}}}{info[0]}") == info[1], error.xml
    if path is not None:
        assert path in (error.path or ""), error.xml
    # the session still works and nothing changed
    data = m.get_config(source="running").data_ele
    assert len(data) == 0


def test_lock_denied_names_the_holder(connect: Connect) -> None:
    a = connect()
    b = connect()
    a.lock(target="startup")
    with pytest.raises(RPCError) as caught:
        b.lock(target="startup")
    error = caught.value
    assert error.tag == "lock-denied" and error.type == "protocol"
    element = etree.fromstring(error.xml.encode()) if isinstance(error.xml, str) else error.xml
    assert element.findtext(f".//{{{NC}}}error-info/{{{NC}}}session-id") == a.session_id
    assert b.get_config(source="startup").ok


def test_data_exists(connect: Connect) -> None:
    m = connect()
    m.dispatch(etree.fromstring(edit("<enabled>true</enabled>")))
    with pytest.raises(RPCError) as caught:
        m.dispatch(
            etree.fromstring(
                edit(f'<enabled xmlns:nc="{NC}" nc:operation="create">false</enabled>')
            )
        )
    assert caught.value.tag == "data-exists"
    assert caught.value.path == "/pa:product-analytics/pa:enabled"
    assert m.get_config(source="running").data_ele.findtext(f".//{{{PA}}}enabled") == "true"


@pytest.mark.parametrize(
    ("rpc", "tag"),
    [
        (f'<rpc xmlns="{NC}" message-id="1"/>', "missing-element"),
        (f'<rpc xmlns="{NC}" message-id="1"><get/><get-config/></rpc>', "unknown-element"),
    ],
)
def test_rpc_without_one_operation_has_an_appendix_a_error_type(
    running: RunningServer, rpc: str, tag: str
) -> None:
    async def scenario(raw: RawSession) -> etree._Element:
        await raw.hello()
        raw.send(rpc.encode())
        reply = await raw.read_message()
        assert reply is not None
        return etree.fromstring(reply)

    reply = run_raw(running.port, scenario)
    assert error_tags(reply) == [tag]
    assert reply.findtext(f".//{{{NC}}}error-type") == "protocol"  # not "rpc": Appendix A


def test_every_error_type_on_the_wire_is_one_appendix_a_allows() -> None:
    from agent.api import RpcError
    from agent.server.errors import ALLOWED_TYPES, rpc_error_element

    for tag, allowed in ALLOWED_TYPES.items():
        for error_type in ("transport", "rpc", "protocol", "application"):
            element = rpc_error_element(RpcError(tag, "x", type=error_type))  # type: ignore[arg-type]
            sent = element.findtext(f"{{{NC}}}error-type")
            assert sent in allowed
            assert sent == (error_type if error_type in allowed else allowed[0])
