"""Candidate datastore: commit, discard-changes, confirmed commit with rollback."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from lxml import etree
from ncclient.operations.rpc import RPCError
from server_helpers import NC, PA, RunningServer, data_of

Connect = Callable[..., Any]


def pa_config(storage: str) -> str:
    return (
        f'<config xmlns="{NC}"><product-analytics xmlns="{PA}">'
        f"<storage>{storage}</storage></product-analytics></config>"
    )


def storage(m: Any, source: str) -> str | None:
    data: etree._Element = data_of(m.get_config(source=source))
    return data.findtext(f"{{{PA}}}product-analytics/{{{PA}}}storage")


def wait_for(predicate: Callable[[], bool], what: str) -> None:
    for _ in range(500):
        if predicate():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def test_commit_and_discard(connect: Connect) -> None:
    m = connect()
    m.edit_config(target="candidate", config=pa_config("in-memory"))
    assert storage(m, "candidate") == "in-memory"
    assert storage(m, "running") is None
    m.commit()
    assert storage(m, "running") == "in-memory"
    m.edit_config(target="candidate", config=pa_config("on-disk"))
    m.discard_changes()
    assert storage(m, "candidate") == "in-memory"


def test_lock_refused_while_candidate_has_uncommitted_changes(connect: Connect) -> None:
    a = connect()
    b = connect()
    a.edit_config(target="candidate", config=pa_config("in-memory"))
    with pytest.raises(RPCError) as info:
        b.lock(target="candidate")
    assert info.value.tag == "lock-denied"
    a.discard_changes()
    b.lock(target="candidate")
    with pytest.raises(RPCError) as info:
        a.edit_config(target="candidate", config=pa_config("on-disk"))
    assert info.value.tag == "in-use"


def test_invalid_candidate_cannot_be_committed(connect: Connect) -> None:
    m = connect()
    with pytest.raises(RPCError) as info:
        m.edit_config(target="candidate", config=pa_config("punched-cards"))
    assert info.value.tag == "invalid-value"
    m.commit()  # nothing changed: commit of an unchanged candidate is fine


def test_confirmed_commit_confirmed(connect: Connect) -> None:
    m = connect()
    m.edit_config(target="candidate", config=pa_config("in-memory"))
    m.commit(confirmed=True, timeout="60")
    assert storage(m, "running") == "in-memory"
    m.commit()  # the confirming commit
    m.edit_config(target="candidate", config=pa_config("on-disk"))
    m.commit()
    assert storage(m, "running") == "on-disk"


def test_confirmed_commit_rolls_back_on_timeout(running: RunningServer, connect: Connect) -> None:
    m = connect()
    m.edit_config(target="running", config=pa_config("on-disk"))
    m.edit_config(target="candidate", config=pa_config("in-memory"))
    m.commit(confirmed=True, timeout="1")
    assert storage(m, "running") == "in-memory"
    wait_for(lambda: running.run(lambda: running.server.confirmed.pending) is None, "rollback")
    assert storage(m, "running") == "on-disk"
    assert storage(m, "candidate") == "on-disk"
    assert [c.cause for c in running.changes][-1] == "rollback"


def test_confirmed_commit_rolls_back_when_session_ends(
    running: RunningServer, connect: Connect
) -> None:
    a = connect()
    a.edit_config(target="candidate", config=pa_config("in-memory"))
    a.commit(confirmed=True, timeout="600")
    a.close_session()
    b = connect()
    wait_for(lambda: storage(b, "running") is None, "rollback at session end")


def test_cancel_commit_and_persist(connect: Connect) -> None:
    a = connect()
    a.edit_config(target="candidate", config=pa_config("in-memory"))
    a.commit(confirmed=True, timeout="600")
    a.cancel_commit()
    assert storage(a, "running") is None
    # persist: the confirmed commit survives its session; another session confirms it
    a.edit_config(target="candidate", config=pa_config("in-memory"))
    a.commit(confirmed=True, timeout="600", persist="token-1")
    a.close_session()
    b = connect()
    assert storage(b, "running") == "in-memory"
    with pytest.raises(RPCError):
        b.commit()  # without the persist-id
    b.commit(persist_id="token-1")
    with pytest.raises(RPCError) as info:
        b.cancel_commit()
    assert info.value.tag == "operation-failed"
    assert storage(b, "running") == "in-memory"


def test_bad_confirm_timeout(connect: Connect) -> None:
    m = connect()
    with pytest.raises(RPCError) as info:
        m.dispatch(
            etree.fromstring(
                f'<commit xmlns="{NC}"><confirmed/><confirm-timeout>0</confirm-timeout></commit>'
            )
        )
    assert info.value.tag == "invalid-value"
    assert m.get_config(source="running").ok
