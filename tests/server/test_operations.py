"""Base operations over real ncclient sessions: get, get-config, edit-config, copy-config,
delete-config, lock/unlock, kill-session, validate, startup at boot."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from lxml import etree
from ncclient.operations.rpc import RPCError
from ncclient.transport.errors import SessionCloseError, SSHError, TransportError
from server_helpers import NC, PA, RunningServer, data_of

from agent.config import ServerConfig

WD_ATTR_NS = "urn:ietf:params:xml:ns:netconf:default:1.0"
YANG_NS = "urn:ietf:params:xml:ns:yang:1"

Connect = Callable[..., Any]

PA_CONFIG = f"""<config xmlns="{NC}">
  <product-analytics xmlns="{PA}">
    <enabled>true</enabled>
    <storage>in-memory</storage>
    <transport><mode>direct</mode><url>https://collector.example.net/pa</url></transport>
  </product-analytics>
</config>"""

PA_FILTER = f'<filter><product-analytics xmlns="{PA}"/></filter>'


def pa_text(data: etree._Element, path: str) -> str | None:
    return data.findtext(path, namespaces={"pa": PA})


def test_edit_then_get_config_and_get(connect: Connect) -> None:
    m = connect()
    m.edit_config(target="running", config=PA_CONFIG)
    data = data_of(m.get_config(source="running"))
    assert pa_text(data, "pa:product-analytics/pa:enabled") == "true"
    assert pa_text(data, "pa:product-analytics/pa:transport/pa:mode") == "direct"
    # get = running plus state; the filter narrows it to our module
    data = data_of(m.get(filter=("subtree", f'<product-analytics xmlns="{PA}"/>')))
    assert pa_text(data, "pa:product-analytics/pa:storage") == "in-memory"
    assert [etree.QName(e).localname for e in data] == ["product-analytics"]


def test_merge_replace_create_delete_remove(connect: Connect) -> None:
    m = connect()
    m.edit_config(target="running", config=PA_CONFIG)
    # merge changes one leaf and keeps the others
    m.edit_config(
        target="running",
        config=f'<config xmlns="{NC}"><product-analytics xmlns="{PA}">'
        "<storage>on-disk</storage></product-analytics></config>",
    )
    data = data_of(m.get_config(source="running"))
    assert pa_text(data, "pa:product-analytics/pa:storage") == "on-disk"
    assert pa_text(data, "pa:product-analytics/pa:enabled") == "true"
    # replace of transport drops its url
    m.edit_config(
        target="running",
        config=f'<config xmlns="{NC}"><product-analytics xmlns="{PA}">'
        f'<transport xmlns:nc="{NC}" nc:operation="replace"><mode>offline</mode></transport>'
        "</product-analytics></config>",
    )
    data = data_of(m.get_config(source="running"))
    assert pa_text(data, "pa:product-analytics/pa:transport/pa:mode") == "offline"
    assert pa_text(data, "pa:product-analytics/pa:transport/pa:url") is None
    # create of an existing leaf: data-exists; the session keeps working
    with pytest.raises(RPCError) as info:
        m.edit_config(
            target="running",
            config=f'<config xmlns="{NC}"><product-analytics xmlns="{PA}">'
            f'<enabled xmlns:nc="{NC}" nc:operation="create">false</enabled>'
            "</product-analytics></config>",
        )
    assert info.value.tag == "data-exists"
    assert "enabled" in (info.value.path or "")
    # delete removes; delete again is data-missing; remove of a missing node is fine
    delete = (
        f'<config xmlns="{NC}"><product-analytics xmlns="{PA}">'
        f'<storage xmlns:nc="{NC}" nc:operation="OP"/></product-analytics></config>'
    )
    m.edit_config(target="running", config=delete.replace("OP", "delete"))
    with pytest.raises(RPCError) as info:
        m.edit_config(target="running", config=delete.replace("OP", "delete"))
    assert info.value.tag == "data-missing"
    m.edit_config(target="running", config=delete.replace("OP", "remove"))
    data = data_of(m.get_config(source="running"))
    assert pa_text(data, "pa:product-analytics/pa:storage") is None
    assert pa_text(data, "pa:product-analytics/pa:enabled") == "true"


def test_deleting_last_leaf_leaves_no_empty_container(connect: Connect) -> None:
    m = connect()
    m.edit_config(
        target="running",
        config=f'<config xmlns="{NC}"><product-analytics xmlns="{PA}"><transport>'
        "<retry><max-attempts>3</max-attempts></retry></transport></product-analytics></config>",
    )
    m.edit_config(
        target="running",
        config=f'<config xmlns="{NC}" xmlns:nc="{NC}"><product-analytics xmlns="{PA}">'
        '<transport><retry><max-attempts nc:operation="delete"/></retry></transport>'
        "</product-analytics></config>",
    )
    data = data_of(m.get_config(source="running"))
    assert len(data) == 0, etree.tostring(data)


def test_default_operation_none_and_replace(connect: Connect) -> None:
    m = connect()
    m.edit_config(target="running", config=PA_CONFIG)
    # none: nothing changes unless an operation attribute says so
    m.edit_config(
        target="running",
        default_operation="none",
        config=f'<config xmlns="{NC}" xmlns:nc="{NC}"><product-analytics xmlns="{PA}">'
        '<enabled>false</enabled><storage nc:operation="merge">on-disk</storage>'
        "</product-analytics></config>",
    )
    data = data_of(m.get_config(source="running"))
    assert pa_text(data, "pa:product-analytics/pa:enabled") == "true"
    assert pa_text(data, "pa:product-analytics/pa:storage") == "on-disk"
    # replace: the config replaces the whole datastore
    m.edit_config(
        target="running",
        default_operation="replace",
        config=f'<config xmlns="{NC}"><product-analytics xmlns="{PA}">'
        "<enabled>false</enabled></product-analytics></config>",
    )
    data = data_of(m.get_config(source="running"))
    assert pa_text(data, "pa:product-analytics/pa:enabled") == "false"
    assert pa_text(data, "pa:product-analytics/pa:storage") is None


def test_test_only_and_bad_values_change_nothing(connect: Connect) -> None:
    m = connect()
    m.edit_config(target="running", config=PA_CONFIG)
    before = etree.tostring(data_of(m.get_config(source="running")), method="c14n")
    m.edit_config(
        target="running",
        test_option="test-only",
        config=f'<config xmlns="{NC}"><product-analytics xmlns="{PA}">'
        "<storage>on-disk</storage></product-analytics></config>",
    )
    for bad, where in (
        ("<storage>floppy</storage>", "storage"),
        ("<enabled>yes</enabled>", "enabled"),
        ("<transport><retry><max-attempts>101</max-attempts></retry></transport>", "max-attempts"),
        ("<transport><retry><initial-interval>0</initial-interval></retry></transport>", "initial"),
    ):
        with pytest.raises(RPCError) as info:
            m.edit_config(
                target="running",
                config=f'<config xmlns="{NC}"><product-analytics xmlns="{PA}">{bad}'
                "</product-analytics></config>",
            )
        assert info.value.tag == "invalid-value"
        assert where in (info.value.path or ""), info.value.path
    after = etree.tostring(data_of(m.get_config(source="running")), method="c14n")
    assert before == after


def test_rollback_on_error_keeps_datastore_unchanged(connect: Connect) -> None:
    m = connect()
    m.edit_config(target="running", config=PA_CONFIG)
    with pytest.raises(RPCError):
        m.edit_config(
            target="running",
            error_option="rollback-on-error",
            config=f'<config xmlns="{NC}"><product-analytics xmlns="{PA}">'
            "<storage>on-disk</storage><enabled>maybe</enabled></product-analytics></config>",
        )
    data = data_of(m.get_config(source="running"))
    assert pa_text(data, "pa:product-analytics/pa:storage") == "in-memory"


def test_continue_on_error_applies_the_good_parts(connect: Connect) -> None:
    m = connect()
    with pytest.raises(RPCError) as info:
        m.edit_config(
            target="running",
            error_option="continue-on-error",
            config=f'<config xmlns="{NC}"><product-analytics xmlns="{PA}">'
            "<storage>on-disk</storage><enabled>maybe</enabled></product-analytics></config>",
        )
    assert info.value.tag == "invalid-value"
    data = data_of(m.get_config(source="running"))
    assert pa_text(data, "pa:product-analytics/pa:storage") == "on-disk"


def test_config_false_nodes_cannot_be_edited(connect: Connect) -> None:
    m = connect()
    with pytest.raises(RPCError) as info:
        m.edit_config(
            target="running",
            config=f'<config xmlns="{NC}"><product-analytics xmlns="{PA}">'
            "<status><state>available</state></status></product-analytics></config>",
        )
    assert info.value.tag == "invalid-value"
    assert "status" in (info.value.path or "")


def test_copy_config_and_startup_survive_restart(tmp_path: Any) -> None:
    first = RunningServer(tmp_path / "state")
    try:
        m = first.connect()
        m.edit_config(target="running", config=PA_CONFIG)
        m.copy_config(source="running", target="startup")
        startup = data_of(m.get_config(source="startup"))
        assert pa_text(startup, "pa:product-analytics/pa:storage") == "in-memory"
        # running changes after the copy do not reach startup
        m.edit_config(
            target="running",
            config=f'<config xmlns="{NC}"><product-analytics xmlns="{PA}">'
            "<storage>on-disk</storage></product-analytics></config>",
        )
        m.close_session()
    finally:
        first.stop()
    assert (tmp_path / "state" / "startup.xml").exists()
    second = RunningServer(tmp_path / "state")
    try:
        m = second.connect()
        data = data_of(m.get_config(source="running"))
        assert pa_text(data, "pa:product-analytics/pa:storage") == "in-memory"
        # delete-config empties startup; running cannot be deleted
        m.delete_config(target="startup")
        assert len(data_of(m.get_config(source="startup"))) == 0
        with pytest.raises(RPCError) as info:
            m.delete_config(target="running")
        assert info.value.tag == "invalid-value"
        m.close_session()
    finally:
        second.stop()


def test_copy_config_inline_source(connect: Connect) -> None:
    m = connect()
    m.copy_config(
        target="running",
        source=f'<source xmlns="{NC}"><config><product-analytics xmlns="{PA}">'
        "<enabled>false</enabled></product-analytics></config></source>",
    )
    data = data_of(m.get_config(source="running"))
    assert pa_text(data, "pa:product-analytics/pa:enabled") == "false"


def test_copy_config_inline_values_are_stored_canonical(connect: Connect) -> None:
    """As an edit stores them: 007 is stored as 7, " true " as true."""
    m = connect()
    m.copy_config(
        target="candidate",
        source=f'<source xmlns="{NC}"><config><product-analytics xmlns="{PA}">'
        "<enabled> true </enabled><transport><retry><max-attempts>007</max-attempts>"
        "</retry></transport></product-analytics></config></source>",
    )
    data = data_of(m.get_config(source="candidate"))
    assert pa_text(data, "pa:product-analytics/pa:enabled") == "true"
    assert pa_text(data, "pa:product-analytics/pa:transport/pa:retry/pa:max-attempts") == "7"


def test_locks(connect: Connect) -> None:
    a = connect()
    b = connect()
    a.lock(target="running")
    with pytest.raises(RPCError) as info:
        b.lock(target="running")
    assert info.value.tag == "lock-denied"
    assert info.value.info is not None and a.session_id in info.value.info
    with pytest.raises(RPCError) as info:
        b.edit_config(target="running", config=PA_CONFIG)
    assert info.value.tag == "in-use"
    with pytest.raises(RPCError) as info:
        b.unlock(target="running")
    assert info.value.tag == "lock-denied"
    # the holder may edit; b still works after its errors
    a.edit_config(target="running", config=PA_CONFIG)
    assert b.get_config(source="running").ok
    a.unlock(target="running")
    b.lock(target="running")
    b.unlock(target="running")


def test_lock_released_when_session_dies(running: RunningServer, connect: Connect) -> None:
    a = connect()
    b = connect()
    a.lock(target="candidate")
    # drop a's transport without close-session: the server reaps the session
    a._session.close()
    for _ in range(100):
        if running.run(lambda: running.server.datastores.candidate.lock) is None:
            break
        import time

        time.sleep(0.02)
    b.lock(target="candidate")
    b.unlock(target="candidate")


def test_kill_session(running: RunningServer, connect: Connect) -> None:
    a = connect()
    b = connect()
    a.lock(target="running")
    b.kill_session(session_id=a.session_id)
    b.lock(target="running")
    with pytest.raises(RPCError) as info:
        b.kill_session(session_id=b.session_id)
    assert info.value.tag == "invalid-value"
    with pytest.raises(RPCError) as info:
        b.kill_session(session_id="9999")
    assert info.value.tag == "invalid-value"


def test_validate(connect: Connect) -> None:
    m = connect()
    m.edit_config(target="candidate", config=PA_CONFIG)
    m.validate(source="candidate")
    inline = f'<validate xmlns="{NC}"><source>{PA_CONFIG}</source></validate>'
    m.dispatch(etree.fromstring(inline))
    with pytest.raises(RPCError) as info:
        m.dispatch(etree.fromstring(inline.replace("in-memory", "tape")))
    assert info.value.tag == "invalid-value"


def test_config_listeners_and_subscription(tmp_path: Any) -> None:
    from agent.api import Registry, RpcError

    seen: list[tuple[str | None, str | None]] = []

    class Listener:
        namespace = PA

        def validate(self, old: etree._Element | None, new: etree._Element | None) -> None:
            if new is not None and new.findtext(f"{{{PA}}}storage") == "in-memory":
                raise RpcError("invalid-value", "in-memory storage is refused by the engine")

        def apply(self, old: etree._Element | None, new: etree._Element | None) -> None:
            seen.append(
                (
                    None if old is None else old.findtext(f"{{{PA}}}enabled"),
                    None if new is None else new.findtext(f"{{{PA}}}enabled"),
                )
            )

    registry = Registry()
    registry.add_config_listener(Listener())
    server = RunningServer(tmp_path / "s", registry=registry)
    try:
        m = server.connect()
        with pytest.raises(RPCError) as info:
            m.edit_config(target="running", config=PA_CONFIG)
        assert "refused by the engine" in (info.value.message or "")
        assert len(data_of(m.get_config(source="running"))) == 0
        # test-only and <validate> ask the listeners too, and change nothing
        with pytest.raises(RPCError):
            m.edit_config(target="running", config=PA_CONFIG, test_option="test-only")
        m.edit_config(target="candidate", config=PA_CONFIG)
        with pytest.raises(RPCError) as info:
            m.validate(source="candidate")
        assert "refused by the engine" in (info.value.message or "")
        m.discard_changes()
        assert seen == []
        m.edit_config(
            target="running",
            config=f'<config xmlns="{NC}"><product-analytics xmlns="{PA}">'
            "<enabled>true</enabled></product-analytics></config>",
        )
        assert seen == [(None, "true")]
        assert [c.cause for c in server.changes] == ["edit-config"]
        assert server.changes[0].namespaces == {PA}
        m.close_session()
    finally:
        server.stop()


def test_config_writer_merges_and_persists(running: RunningServer, connect: Connect) -> None:
    element = etree.fromstring(
        f'<product-analytics xmlns="{PA}"><enabled>true</enabled></product-analytics>'
    )
    running.run(lambda: running.server.config_writer.merge_running(element, persist=True))
    m = connect()
    for source in ("running", "startup"):
        data = data_of(m.get_config(source=source))
        assert pa_text(data, "pa:product-analytics/pa:enabled") == "true"
    got = running.run(lambda: running.server.config_writer.get_running(PA, "product-analytics"))
    assert got is not None and got.findtext(f"{{{PA}}}enabled") == "true"


def test_preloaded_subtrees_are_served_read_only(tmp_path: Any) -> None:
    native = etree.fromstring(
        '<native xmlns="http://cisco.com/ns/yang/Cisco-IOS-XE-native">'
        "<hostname>ie3200</hostname></native>"
    )
    server = RunningServer(tmp_path / "s", preload_running=[native])
    try:
        m = server.connect()
        data = data_of(
            m.get_config(
                source="running",
                filter=(
                    "subtree",
                    '<native xmlns="http://cisco.com/ns/yang/Cisco-IOS-XE-native"/>',
                ),
            )
        )
        assert (
            data.findtext(
                "{http://cisco.com/ns/yang/Cisco-IOS-XE-native}native/"
                "{http://cisco.com/ns/yang/Cisco-IOS-XE-native}hostname"
            )
            == "ie3200"
        )
        with pytest.raises(RPCError) as info:
            m.edit_config(
                target="running",
                config=f'<config xmlns="{NC}"><native xmlns="http://cisco.com/ns/yang/'
                'Cisco-IOS-XE-native"><hostname>x</hostname></native></config>',
            )
        assert info.value.tag == "access-denied"
        # our own module stays writable next to it, and copy-config keeps the native tree
        m.edit_config(target="running", config=PA_CONFIG)
        m.copy_config(source="running", target="startup")
        assert b"native" not in (tmp_path / "s" / "startup.xml").read_bytes()
        m.close_session()
    finally:
        server.stop()


def test_max_sessions(tmp_path: Any) -> None:
    server = RunningServer(
        tmp_path / "s", config=ServerConfig(host="127.0.0.1", port=0, max_sessions=2)
    )
    try:
        a = server.connect()
        b = server.connect()
        with pytest.raises((SSHError, SessionCloseError, TransportError, OSError)):
            server.connect(timeout=5)
        a.close_session()
        # a slot is free again once a session ended
        c = server.connect()
        assert c.get_config(source="running").ok
        b.close_session()
        c.close_session()
    finally:
        server.stop()


def test_registered_rpc_gets_validated_input_and_context(tmp_path: Any) -> None:
    from agent.api import Registry, RpcContext, RpcError

    calls: list[tuple[int, str, str | None]] = []

    async def export_report(ctx: RpcContext, op: etree._Element) -> list[etree._Element]:
        report_id = op.findtext(f"{{{PA}}}report-id")
        if report_id == "404":
            raise RpcError("invalid-value", "no report 404", app_tag="no-such-report")
        calls.append((ctx.session_id, ctx.username, report_id))
        name = etree.Element(f"{{{PA}}}file-name", nsmap={None: PA})  # type: ignore[dict-item]
        name.text = f"/exports/{report_id}.json"
        return [name]

    registry = Registry()
    registry.add_rpc(PA, "export-report", export_report)
    server = RunningServer(tmp_path / "s", registry=registry)
    try:
        m = server.connect()
        reply = m.dispatch(
            etree.fromstring(
                f'<export-report xmlns="{PA}"><report-id>7</report-id></export-report>'
            )
        )
        assert "/exports/7.json" in reply.xml
        assert calls == [(int(m.session_id), "admin", "7")]
        for body, tag in (
            ("", "missing-element"),  # report-id is mandatory
            ("<report-id>seven</report-id>", "invalid-value"),  # uint64
            ("<colour/>", "unknown-element"),
            ("<report-id>404</report-id>", "invalid-value"),  # the handler's own error
        ):
            with pytest.raises(RPCError) as info:
                m.dispatch(etree.fromstring(f'<export-report xmlns="{PA}">{body}</export-report>'))
            assert info.value.tag == tag, body
        assert len(calls) == 1
        m.close_session()
    finally:
        server.stop()


def pa_edit(body: str, nsmaps: str = "") -> str:
    """A <config> with ``body`` inside <product-analytics>; nc and wd prefixes declared."""
    return (
        f'<config xmlns="{NC}" xmlns:nc="{NC}" xmlns:wd="{WD_ATTR_NS}" {nsmaps}>'
        f'<product-analytics xmlns="{PA}">{body}</product-analytics></config>'
    )


def test_default_operation_none_refuses_missing_data(connect: Connect) -> None:
    m = connect()
    m.edit_config(target="running", config=pa_edit("<enabled>true</enabled>"))
    retry = "<transport><retry><max-attempts>4</max-attempts></retry></transport>"
    with pytest.raises(RPCError) as info:
        m.edit_config(target="running", default_operation="none", config=pa_edit(retry))
    assert info.value.tag == "data-missing"
    # the topmost node without a counterpart in running is reported
    assert info.value.path == "/pa:product-analytics/pa:transport"
    # a leaf missing in running is data-missing as well; one present is left as it is
    with pytest.raises(RPCError) as info:
        m.edit_config(
            target="running", default_operation="none", config=pa_edit("<storage>x</storage>")
        )
    assert info.value.tag == "data-missing"
    assert info.value.path == "/pa:product-analytics/pa:storage"
    m.edit_config(
        target="running", default_operation="none", config=pa_edit("<enabled>false</enabled>")
    )
    # an operation below missing containers creates them
    m.edit_config(
        target="running",
        default_operation="none",
        config=pa_edit(
            '<transport><retry><max-attempts nc:operation="merge">4</max-attempts></retry>'
            "</transport>"
        ),
    )
    # remove below a missing container is no error (nothing to remove, nothing created)
    m.edit_config(
        target="running",
        default_operation="none",
        config=pa_edit('<transport><url nc:operation="remove"/></transport>'),
    )
    data = data_of(m.get_config(source="running"))
    assert pa_text(data, "pa:product-analytics/pa:enabled") == "true"
    assert pa_text(data, "pa:product-analytics/pa:transport/pa:retry/pa:max-attempts") == "4"
    assert pa_text(data, "pa:product-analytics/pa:transport/pa:url") is None


def test_default_attribute_sets_a_leaf_to_its_default(connect: Connect) -> None:
    m = connect()
    m.edit_config(
        target="running",
        config=pa_edit(
            "<storage>in-memory</storage><transport><retry><max-attempts>9</max-attempts>"
            "</retry></transport>"
        ),
    )
    # tagged with a value that is not the schema default: invalid-value, nothing changes
    with pytest.raises(RPCError) as info:
        m.edit_config(
            target="running", config=pa_edit('<storage wd:default="true">in-memory</storage>')
        )
    assert info.value.tag == "invalid-value"
    assert info.value.path == "/pa:product-analytics/pa:storage"
    # tagged with the default: the leaf is no longer explicitly set
    m.edit_config(
        target="running",
        config=pa_edit(
            '<storage wd:default="true">on-disk</storage><transport><retry>'
            '<max-attempts wd:default="1">5</max-attempts></retry></transport>'
        ),
    )
    data = data_of(m.get_config(source="running"))
    assert pa_text(data, "pa:product-analytics/pa:storage") is None
    assert pa_text(data, "pa:product-analytics/pa:transport") is None
    tagged = data_of(m.get_config(source="running", with_defaults="report-all-tagged"))
    storage = tagged.find(f"{{{PA}}}product-analytics/{{{PA}}}storage")
    assert storage is not None and storage.text == "on-disk"
    assert storage.get(f"{{{WD_ATTR_NS}}}default") == "true"
    # wd:default="false" is an ordinary set; create of a leaf that exists is data-exists
    m.edit_config(target="running", config=pa_edit('<storage wd:default="false">on-disk</storage>'))
    assert pa_text(data_of(m.get_config(source="running")), "pa:product-analytics/pa:storage") == (
        "on-disk"
    )
    with pytest.raises(RPCError) as info:
        m.edit_config(
            target="running",
            config=pa_edit('<storage nc:operation="create" wd:default="true">on-disk</storage>'),
        )
    assert info.value.tag == "data-exists"
    with pytest.raises(RPCError) as info:
        m.edit_config(
            target="running", config=pa_edit('<storage wd:default="maybe">on-disk</storage>')
        )
    assert info.value.tag == "bad-attribute"
    # only leaves have a default to compare with
    with pytest.raises(RPCError) as info:
        m.edit_config(target="running", config=pa_edit('<transport wd:default="true"/>'))
    assert info.value.tag == "bad-attribute"


@pytest.mark.parametrize(
    ("attribute", "name"),
    [
        ('colour="red"', "colour"),
        ('nc:colour="red"', "colour"),
        ('x:operation="merge"', "operation"),
        ('wd:other="true"', "other"),
    ],
)
def test_unknown_attributes_on_config_data_are_refused(
    connect: Connect, attribute: str, name: str
) -> None:
    m = connect()
    with pytest.raises(RPCError) as info:
        m.edit_config(
            target="running",
            config=pa_edit(
                f"<transport><mode {attribute}>direct</mode></transport>",
                'xmlns:x="urn:example:other"',
            ),
        )
    assert info.value.tag == "unknown-attribute"
    assert info.value.type == "application"
    assert f"<bad-attribute>{name}</bad-attribute>" in (info.value.info or "")
    assert "<bad-element>mode</bad-element>" in (info.value.info or "")
    assert len(data_of(m.get_config(source="running"))) == 0
    # the known ones pass: operation, default and YANG insert
    m.edit_config(
        target="running",
        config=pa_edit(
            '<transport nc:operation="merge"><mode yang:insert="last">direct</mode>'
            '<retry><max-attempts wd:default="true">5</max-attempts></retry></transport>',
            f'xmlns:yang="{YANG_NS}"',
        ),
    )
    data = data_of(m.get_config(source="running"))
    assert pa_text(data, "pa:product-analytics/pa:transport/pa:mode") == "direct"


def test_copy_config_inline_with_unknown_attribute_is_refused(connect: Connect) -> None:
    m = connect()
    with pytest.raises(RPCError) as info:
        m.copy_config(
            target="running",
            source=f'<source xmlns="{NC}"><config><product-analytics xmlns="{PA}">'
            '<storage colour="red">on-disk</storage></product-analytics></config></source>',
        )
    assert info.value.tag == "unknown-attribute"
    assert "<bad-attribute>colour</bad-attribute>" in (info.value.info or "")
    assert len(data_of(m.get_config(source="running"))) == 0
