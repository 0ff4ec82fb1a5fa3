"""Modules served as operational state only: configuring them is refused, state keeps its
prefixes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from ncclient import manager
from ncclient.operations import RPCError
from ncclient.xml_ import to_ele
from server_helpers import data_of

NCM = "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"
IF = "urn:ietf:params:xml:ns:yang:ietf-interfaces"
PA = "urn:product-analytics:yang:product-analytics"

IF_CONFIG = f"""<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">
  <interfaces xmlns="{IF}" xmlns:ianaift="urn:ietf:params:xml:ns:yang:iana-if-type">
    <interface><name>eth9</name><type>ianaift:ethernetCsmacd</type></interface>
  </interfaces>
</config>"""


@pytest.mark.parametrize("target", ["running", "candidate"])
def test_configuring_a_read_only_module_is_refused(
    connect: Callable[..., manager.Manager], target: str
) -> None:
    m = connect()
    before = data_of(m.get_config(source=target))
    with pytest.raises(RPCError) as caught:
        m.edit_config(target=target, config=IF_CONFIG)
    error = caught.value
    assert error.tag == "operation-not-supported"
    assert error.type == "application"
    assert "ietf-interfaces" in (error.message or "")
    assert "interfaces" in (error.path or "")
    after = data_of(m.get_config(source=target))
    assert [e.tag for e in after.iter()] == [e.tag for e in before.iter()]
    # the session goes on serving, and our own module stays configurable
    m.edit_config(
        target=target,
        config=f'<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">'
        f'<product-analytics xmlns="{PA}"><storage>in-memory</storage></product-analytics>'
        "</config>",
    )


def test_copy_config_of_a_read_only_module_is_refused(
    connect: Callable[..., manager.Manager],
) -> None:
    m = connect()
    with pytest.raises(RPCError) as caught:
        m.dispatch(
            to_ele(
                '<copy-config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">'
                f"<target><running/></target><source>{IF_CONFIG}</source></copy-config>"
            )
        )
    assert caught.value.tag == "operation-not-supported"
    assert data_of(m.get_config(source="running")).find(f".//{{{IF}}}interfaces") is None


def test_identityref_prefixes_in_state_stay_declared(
    connect: Callable[..., manager.Manager],
) -> None:
    m = connect()
    reply: Any = m.get(
        filter=("subtree", f'<netconf-state xmlns="{NCM}"><sessions/></netconf-state>')
    )
    transports = list(data_of(reply).iter(f"{{{NCM}}}transport"))
    assert transports
    for leaf in transports:
        prefix, _, name = (leaf.text or "").partition(":")
        assert name == "netconf-ssh"
        assert leaf.nsmap.get(prefix) == NCM


def test_copy_config_inline_with_default_tagged_leaves(
    connect: Callable[..., manager.Manager],
) -> None:
    """RFC 6243 §4.5.2: a leaf tagged wd:default="true" with its default value is not stored
    as explicit configuration; with another value it is invalid."""
    m = connect()
    wd = "urn:ietf:params:xml:ns:netconf:default:1.0"

    def copy(storage: str) -> None:
        m.dispatch(
            to_ele(
                '<copy-config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">'
                "<target><running/></target><source>"
                '<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">'
                f'<product-analytics xmlns="{PA}" xmlns:wd="{wd}"><enabled>true</enabled>'
                f'<storage wd:default="true">{storage}</storage></product-analytics>'
                "</config></source></copy-config>"
            )
        )

    copy("on-disk")
    running = data_of(m.get_config(source="running"))
    assert running.findtext(f".//{{{PA}}}enabled") == "true"
    assert running.find(f".//{{{PA}}}storage") is None
    with pytest.raises(RPCError) as caught:
        copy("in-memory")
    assert caught.value.tag == "invalid-value"
