"""Enablement, the grace period and the reporting period, on a manual clock."""

from __future__ import annotations

import logging

import pytest
from engine_helpers import run_async

from agent.engine.clock import ManualClock
from agent.engine.lifecycle import GRACE_RETRY, Lifecycle

DAY = 86400.0
GRACE = 7 * DAY


class Hooks:
    """Records what the lifecycle asks of the engine; plays the config listener when the
    agent writes 'enabled true' (as the server does: merge_running runs the listeners)."""

    def __init__(self) -> None:
        self.lifecycle: Lifecycle | None = None
        self.collecting = False
        self.discarded = 0
        self.reports: list[tuple[float, float]] = []
        self.period_start: float | None = None
        self.writes = 0
        self.write_failures = 0
        self.fail_reports = 0

    def start_collection(self) -> None:
        self.collecting = True

    def stop_collection(self) -> None:
        self.collecting = False

    def discard_collected(self) -> None:
        self.discarded += 1

    async def generate_report(self, period_start: float, period_end: float) -> int:
        if self.fail_reports:
            self.fail_reports -= 1
            raise RuntimeError("KPI store broken")
        self.reports.append((period_start, period_end))
        return int(period_end)

    def write_enabled(self) -> None:
        if self.write_failures:
            self.write_failures -= 1
            raise RuntimeError("running is locked")
        self.writes += 1
        assert self.lifecycle is not None
        self.lifecycle.configure(True)

    def load_period_start(self) -> float | None:
        return self.period_start

    def save_period_start(self, value: float | None) -> None:
        self.period_start = value


def make(clock: ManualClock, interval: float = 30 * DAY) -> tuple[Lifecycle, Hooks]:
    hooks = Hooks()
    lifecycle = Lifecycle(clock, hooks, GRACE)
    lifecycle.reporting_interval = interval
    hooks.lifecycle = lifecycle
    return lifecycle, hooks


@run_async
async def test_grace_period_expires_and_enables(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="agent.engine")
    clock = ManualClock(1_000_000.0)
    lifecycle, hooks = make(clock)
    lifecycle.start(None)
    assert lifecycle.state == "grace-period"
    assert lifecycle.grace_end == 1_000_000.0 + GRACE
    assert not hooks.collecting
    await clock.advance(GRACE - 1)
    assert lifecycle.state == "grace-period" and lifecycle.grace_remaining == 1.0
    assert hooks.writes == 0 and not hooks.collecting
    await clock.advance(1)
    assert hooks.writes == 1
    assert lifecycle.state == "available" and hooks.collecting
    assert lifecycle.period_start == 1_000_000.0 + GRACE
    assert lifecycle.grace_remaining is None
    messages = caplog.text
    assert "%PA-5-GRACE_STARTED" in messages and "7 days" in messages
    assert "%PA-5-GRACE_EXPIRED" in messages and "%PA-5-ENABLED" in messages
    await lifecycle.stop()


@run_async
async def test_failed_enable_write_is_retried() -> None:
    clock = ManualClock()
    lifecycle, hooks = make(clock)
    hooks.write_failures = 2
    lifecycle.start(None)
    await clock.advance(GRACE)
    assert lifecycle.state == "grace-period" and hooks.writes == 0
    await clock.advance(GRACE_RETRY)
    assert hooks.writes == 0
    await clock.advance(GRACE_RETRY)
    assert hooks.writes == 1 and lifecycle.state == "available"
    await lifecycle.stop()


@run_async
async def test_enabled_true_stops_the_grace_timer_at_once() -> None:
    clock = ManualClock()
    lifecycle, hooks = make(clock)
    lifecycle.start(None)
    await clock.advance(DAY)
    lifecycle.configure(True)
    assert lifecycle.state == "available" and hooks.collecting
    await clock.advance(GRACE)
    assert hooks.writes == 0  # the grace timer is gone; nothing rewrites the config
    await lifecycle.stop()


@run_async
async def test_enabled_false_stops_and_discards(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="agent.engine")
    clock = ManualClock()
    lifecycle, hooks = make(clock)
    lifecycle.start(True)
    assert hooks.collecting and hooks.period_start is not None
    lifecycle.configure(False)
    assert lifecycle.state == "disabled"
    assert not hooks.collecting and hooks.discarded == 1
    assert hooks.period_start is None
    await clock.advance(60 * DAY)
    assert hooks.reports == [] and hooks.writes == 0
    assert "%PA-5-DISABLED" in caplog.text
    # Configuring the same value again changes nothing.
    lifecycle.configure(False)
    assert hooks.discarded == 1
    await lifecycle.stop()


@run_async
async def test_disabled_at_boot_collects_nothing() -> None:
    clock = ManualClock()
    lifecycle, hooks = make(clock)
    lifecycle.start(False)
    assert lifecycle.state == "disabled" and not hooks.collecting
    await clock.advance(GRACE + DAY)
    assert hooks.writes == 0
    await lifecycle.stop()


@run_async
async def test_removing_enabled_starts_a_new_grace_period() -> None:
    clock = ManualClock()
    lifecycle, hooks = make(clock)
    lifecycle.start(True)
    await clock.advance(DAY)
    lifecycle.configure(None)
    assert lifecycle.state == "grace-period" and not hooks.collecting
    assert lifecycle.grace_remaining == GRACE
    await lifecycle.stop()


@run_async
async def test_reload_during_grace_restarts_the_timer() -> None:
    clock = ManualClock()
    lifecycle, _hooks = make(clock)
    lifecycle.start(None)
    await clock.advance(5 * DAY)
    await lifecycle.stop()
    rebooted, hooks2 = make(clock)
    rebooted.start(None)
    assert rebooted.grace_remaining == GRACE
    await clock.advance(GRACE - DAY)
    assert rebooted.state == "grace-period" and hooks2.writes == 0
    await rebooted.stop()


@run_async
async def test_reports_at_the_end_of_every_period() -> None:
    clock = ManualClock(0.0)
    lifecycle, hooks = make(clock, interval=1000.0)
    lifecycle.start(True)
    await clock.advance(999)
    assert hooks.reports == []
    await clock.advance(1)
    assert hooks.reports == [(0.0, 1000.0)]
    assert hooks.period_start == 1000.0
    assert lifecycle.next_report == 2000.0
    await clock.advance(2000)
    assert hooks.reports == [(0.0, 1000.0), (1000.0, 2000.0), (2000.0, 3000.0)]
    await lifecycle.stop()


@run_async
async def test_persisted_period_start_continues_the_period() -> None:
    clock = ManualClock(5000.0)
    lifecycle, hooks = make(clock, interval=1000.0)
    hooks.period_start = 4500.0  # saved before a restart
    lifecycle.start(True)
    assert lifecycle.period_start == 4500.0
    await clock.advance(500)
    assert hooks.reports == [(4500.0, 5500.0)]
    await lifecycle.stop()


@run_async
async def test_a_failed_report_does_not_stop_the_next() -> None:
    clock = ManualClock(0.0)
    lifecycle, hooks = make(clock, interval=100.0)
    hooks.fail_reports = 1
    lifecycle.start(True)
    await clock.advance(200)
    assert hooks.reports == [(100.0, 200.0)]
    await lifecycle.stop()


@run_async
async def test_end_period_on_demand_and_errors_for_the_rpc() -> None:
    clock = ManualClock(0.0)
    lifecycle, hooks = make(clock, interval=1000.0)
    lifecycle.start(True)
    await clock.advance(250)
    assert await lifecycle.end_period(clock.time(), raise_errors=True) == 250
    assert lifecycle.period_start == 250.0 and lifecycle.next_report == 1250.0
    hooks.fail_reports = 1
    with pytest.raises(RuntimeError):
        await lifecycle.end_period(300.0, raise_errors=True)
    assert lifecycle.period_start == 250.0  # the period stays open after a failed RPC
    await clock.advance(1000)
    assert hooks.reports == [(0.0, 250.0), (250.0, 1250.0)]
    await lifecycle.stop()


@run_async
async def test_new_interval_applies_to_the_running_period() -> None:
    clock = ManualClock(0.0)
    lifecycle, hooks = make(clock, interval=1000.0)
    lifecycle.start(True)
    await clock.advance(100)
    lifecycle.set_reporting_interval(200.0)
    await clock.advance(100)
    assert hooks.reports == [(0.0, 200.0)]
    await lifecycle.stop()


@run_async
async def test_not_available() -> None:
    clock = ManualClock()
    lifecycle, hooks = make(clock)
    lifecycle.start(True)
    lifecycle.fail("cannot open the data store")
    assert lifecycle.state == "not-available" and lifecycle.reason == "cannot open the data store"
    assert not hooks.collecting
    lifecycle.configure(False)  # remembered, but the engine cannot run
    assert lifecycle.state == "not-available"
    await lifecycle.stop()
