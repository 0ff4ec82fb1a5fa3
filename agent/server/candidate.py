"""The candidate datastore's operations (RFC 6241 §8.3, §8.4): commit, discard-changes,
cancel-commit, and confirmed commit (:confirmed-commit:1.1) with rollback on timeout,
on cancel-commit, or when the session that started it ends (unless ``persist`` was given).
"""

from __future__ import annotations

import asyncio
import copy
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lxml import etree

from agent.api import NETCONF_BASE_NS, RpcError
from agent.server import errors
from agent.server.dispatch import Dispatcher, OpContext, check_only_known_children

if TYPE_CHECKING:
    from agent.server.server import NetconfServer

log = logging.getLogger(__name__)

_NC = f"{{{NETCONF_BASE_NS}}}"


@dataclass
class _Pending:
    backup: etree._Element  # running before the first confirmed commit
    session_id: int
    persist: str | None
    timer: asyncio.TimerHandle | None


class ConfirmedCommits:
    """The (at most one) confirmed commit waiting for its confirming commit."""

    def __init__(self, server: NetconfServer) -> None:
        self._server = server
        self.pending: _Pending | None = None

    def cancel_timer(self) -> None:
        """Stop the rollback timer (confirmed, cancelled, or server shutdown)."""
        if self.pending is not None and self.pending.timer is not None:
            self.pending.timer.cancel()
            self.pending.timer = None

    def arm(self, timeout: int) -> asyncio.TimerHandle:
        """Start the rollback timer of the pending confirmed commit."""
        return asyncio.get_running_loop().call_later(timeout, self._timed_out)

    def _timed_out(self) -> None:
        log.info("confirmed commit not confirmed in time: rolling back")
        if self.pending is not None:
            self.pending.timer = None
        self.rollback(cause="confirm-timeout")

    def rollback(self, *, cause: str) -> None:
        """Restore running as it was before the confirmed commit."""
        pending = self.pending
        if pending is None:
            return
        self.cancel_timer()
        self.pending = None
        server = self._server
        backup = server.with_readonly(copy.deepcopy(pending.backup))
        try:
            server.change_running(backup, session_id=0, cause="rollback")
        except RpcError:
            # a listener refusing the rollback cannot keep the unconfirmed config: force it
            log.exception("a config listener refused the confirmed-commit rollback; forcing it")
            server.datastores.running.replace(backup)
        server.discard_candidate()

    def session_ended(self, session_id: int) -> None:
        """RFC 6241 §8.4.1: a non-persistent confirmed commit rolls back with its session."""
        pending = self.pending
        if pending is not None and pending.persist is None and pending.session_id == session_id:
            self.rollback(cause="session-end")


def _persist_id(op: etree._Element) -> str | None:
    element = op.find(_NC + "persist-id")
    return None if element is None else (element.text or "")


async def op_commit(ctx: OpContext, op: etree._Element) -> list[etree._Element]:
    """<commit> with optional <confirmed/>, <confirm-timeout>, <persist>, <persist-id>."""
    check_only_known_children(
        op, {"confirmed", "confirm-timeout", "persist", "persist-id"}, NETCONF_BASE_NS
    )
    server = ctx.server
    confirmed = server.confirmed
    stores = server.datastores
    is_confirmed = op.find(_NC + "confirmed") is not None
    persist_element = op.find(_NC + "persist")
    persist = None if persist_element is None else (persist_element.text or "")
    persist_id = _persist_id(op)
    timeout = server.config.confirmed_commit_timeout
    timeout_element = op.find(_NC + "confirm-timeout")
    if timeout_element is not None:
        text = (timeout_element.text or "").strip()
        plain = text.isascii() and text.isdigit() and len(text) <= 10
        if not plain or not 1 <= int(text) <= 4294967295:
            raise errors.invalid_value(
                f"confirm-timeout must be 1..4294967295 seconds, not {text[:40]!r}",
                type="protocol",
                path="/nc:rpc/nc:commit/nc:confirm-timeout",
                path_ns={"nc": NETCONF_BASE_NS},
            )
        timeout = int(text)
    if not is_confirmed and (persist is not None or timeout_element is not None):
        raise errors.bad_element(
            "confirmed", "confirm-timeout and persist need <confirmed/>", type="protocol"
        )
    candidate_lock = stores.candidate.lock
    if candidate_lock is not None and candidate_lock.session_id != ctx.session.session_id:
        raise errors.in_use(f"candidate is locked by session {candidate_lock.session_id}")
    running_lock = stores.running.lock
    if running_lock is not None and running_lock.session_id != ctx.session.session_id:
        raise errors.in_use(f"running is locked by session {running_lock.session_id}")
    pending = confirmed.pending
    if pending is not None:
        # a follow-up commit: allowed from the same session, or anywhere with the persist-id
        if pending.persist is not None:
            if persist_id != pending.persist:
                raise errors.invalid_value(
                    "a persistent confirmed commit is pending: give its <persist-id>",
                    type="protocol",
                )
        elif ctx.session.session_id != pending.session_id:
            raise errors.in_use(
                f"a confirmed commit of session {pending.session_id} is pending", type="protocol"
            )
    elif persist_id is not None:
        raise errors.invalid_value(
            "no confirmed commit with this persist-id is pending", type="protocol"
        )

    new_root = server.with_readonly(stores.candidate.copy())
    server.validate(new_root)
    before = stores.running.copy()
    server.change_running(new_root, session_id=ctx.session.session_id, cause="commit")
    stores.candidate_dirty = False
    if is_confirmed:
        if pending is None:
            confirmed.pending = _Pending(before, ctx.session.session_id, persist, None)
        else:
            confirmed.cancel_timer()
            if persist is not None:
                pending.persist = persist
        assert confirmed.pending is not None
        confirmed.pending.timer = confirmed.arm(timeout)
    elif pending is not None:
        confirmed.cancel_timer()
        confirmed.pending = None  # confirmed
    return []


async def op_cancel_commit(ctx: OpContext, op: etree._Element) -> list[etree._Element]:
    """<cancel-commit> (RFC 6241 §8.4.4.1)."""
    check_only_known_children(op, {"persist-id"}, NETCONF_BASE_NS)
    confirmed = ctx.server.confirmed
    pending = confirmed.pending
    if pending is None:
        raise errors.operation_failed("no confirmed commit is pending", type="protocol")
    persist_id = _persist_id(op)
    if pending.persist is not None:
        if persist_id != pending.persist:
            raise errors.invalid_value("wrong or missing <persist-id>", type="protocol")
    elif pending.session_id != ctx.session.session_id:
        raise errors.operation_failed(
            "the pending confirmed commit belongs to another session", type="protocol"
        )
    confirmed.rollback(cause="cancel-commit")
    return []


async def op_discard_changes(ctx: OpContext, op: etree._Element) -> list[etree._Element]:
    """<discard-changes>: candidate := running."""
    check_only_known_children(op, set(), NETCONF_BASE_NS)
    lock = ctx.server.datastores.candidate.lock
    if lock is not None and lock.session_id != ctx.session.session_id:
        raise errors.in_use(f"candidate is locked by session {lock.session_id}")
    ctx.server.discard_candidate()
    return []


def register(dispatcher: Dispatcher) -> None:
    """Add the candidate operations to the dispatcher."""
    dispatcher.add(NETCONF_BASE_NS, "commit", op_commit)
    dispatcher.add(NETCONF_BASE_NS, "cancel-commit", op_cancel_commit)
    dispatcher.add(NETCONF_BASE_NS, "discard-changes", op_discard_changes)
