"""Enablement, the grace period and the reporting period (seed A10, A11, A14).

States (``/pa:product-analytics/status/state``):

``grace-period``
    ``enabled`` is not configured.  The grace period (7 days by default, agent time) runs
    from boot; nothing is collected or sent.  At its end the agent writes ``enabled true``
    to running and startup, which brings it to ``available``.
``available``
    ``enabled true``: sources are read, and at the end of every reporting interval a
    report is generated.  The period's start is kept in the store, so a restart in
    ``on-disk`` mode continues the period.
``disabled``
    ``enabled false``: collection (and delivery) stop at once and collected data that no
    report holds yet is deleted.
``not-available``
    the engine cannot run (e.g. the data store cannot be opened); ``reason`` says why.

Each transition logs a syslog-style line (``%PA-5-GRACE_STARTED: ...``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Literal, Protocol

from agent.engine.clock import Clock, date_and_time

log = logging.getLogger("agent.engine")

State = Literal["grace-period", "available", "disabled", "not-available"]
PERIOD_START_KEY = "period-start"
GRACE_RETRY = 60.0  # agent seconds before retrying a failed write of 'enabled true'


class LifecycleHooks(Protocol):
    """What the lifecycle asks of the engine."""

    def start_collection(self) -> None: ...

    def stop_collection(self) -> None: ...

    def discard_collected(self) -> None: ...

    async def generate_report(self, period_start: float, period_end: float) -> int: ...

    def write_enabled(self) -> None:
        """Write ``enabled true`` to running and startup (raises on failure)."""
        ...

    def load_period_start(self) -> float | None: ...

    def save_period_start(self, value: float | None) -> None: ...


def _days(seconds: float) -> str:
    if seconds >= 86400 and seconds % 86400 == 0:
        n = int(seconds // 86400)
        return f"{n} day{'s' if n != 1 else ''}"
    return f"{seconds:g} seconds"


class Lifecycle:
    """The enablement state machine and its two timers (grace period, reporting period)."""

    def __init__(self, clock: Clock, hooks: LifecycleHooks, grace_period: float) -> None:
        self._clock = clock
        self._hooks = hooks
        self.grace_period = grace_period
        self.reporting_interval = 30 * 86400.0
        self.state: State = "not-available"
        self.reason: str | None = "the engine has not started"
        self.configured: bool | None = None
        self.grace_end: float | None = None  # agent wall time
        self.period_start: float | None = None
        self._grace_task: asyncio.Task[None] | None = None
        self._report_task: asyncio.Task[None] | None = None
        self._started = False
        self._period_lock = asyncio.Lock()
        self._self_enabling = False

    # --- transitions --------------------------------------------------------------------

    def start(self, enabled: bool | None) -> None:
        """Boot: ``enabled`` as the running configuration has it (None = absent)."""
        self._started = True
        self.reason = None
        self.configured = None
        self.state = "not-available"
        self.configure(enabled, boot=True)

    def fail(self, reason: str) -> None:
        """The engine cannot run at all."""
        self._cancel_timers()
        self._hooks.stop_collection()
        self.state = "not-available"
        self.reason = reason
        log.error("%%PA-3-NOT_AVAILABLE: product analytics is not available: %s", reason)

    def configure(self, enabled: bool | None, *, boot: bool = False) -> None:
        """``enabled`` changed in running (or at boot)."""
        if not self._started or (self.state == "not-available" and not boot):
            self.configured = enabled
            return
        if enabled == self.configured and not boot:
            return
        self.configured = enabled
        if enabled is None:
            self._enter_grace()
        elif enabled:
            self._enter_available()
        else:
            self._enter_disabled()

    def _enter_grace(self) -> None:
        self._cancel_timers()
        self._hooks.stop_collection()
        self.state = "grace-period"
        self.grace_end = self._clock.time() + self.grace_period
        self._grace_task = asyncio.create_task(self._grace_timer(), name="pa-grace")
        log.info(
            "%%PA-5-GRACE_STARTED: product analytics is not configured; it will be enabled "
            "in %s (at %s) unless 'enabled' is configured",
            _days(self.grace_period),
            date_and_time(self.grace_end),
        )

    def _enter_available(self) -> None:
        previous = self.state
        self._cancel_timers()
        self.grace_end = None
        self.state = "available"
        start = self._hooks.load_period_start()
        if start is None:
            start = self._clock.time()
            self._hooks.save_period_start(start)
        self.period_start = start
        self._hooks.start_collection()
        self._report_task = asyncio.create_task(self._report_timer(), name="pa-report")
        if previous == "grace-period" and not self._self_enabling:
            log.info("%PA-5-GRACE_STOPPED: grace period stopped: 'enabled true' is configured")
        log.info(
            "%%PA-5-ENABLED: product analytics enabled; next report at %s",
            date_and_time(start + self.reporting_interval),
        )

    def _enter_disabled(self) -> None:
        self._cancel_timers()
        self._hooks.stop_collection()
        self._hooks.discard_collected()
        self._hooks.save_period_start(None)
        self.state = "disabled"
        self.grace_end = None
        self.period_start = None
        log.info(
            "%PA-5-DISABLED: product analytics disabled; collection and delivery stopped, "
            "collected data not yet in a report deleted"
        )

    def _cancel_timers(self) -> None:
        current = asyncio.current_task()
        for task in (self._grace_task, self._report_task):
            if task is not None and task is not current:
                task.cancel()
        self._grace_task = self._report_task = None

    async def stop(self) -> None:
        """Shut down: stop the timers and collection (the state stays as it is)."""
        tasks = [t for t in (self._grace_task, self._report_task) if t is not None]
        self._grace_task = self._report_task = None
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._hooks.stop_collection()
        self._started = False

    # --- timers -------------------------------------------------------------------------

    async def _grace_timer(self) -> None:
        while self.state == "grace-period" and self.grace_end is not None:
            remaining = self.grace_end - self._clock.time()
            if remaining > 0:
                await self._clock.sleep(remaining)
                continue
            log.info(
                "%%PA-5-GRACE_EXPIRED: grace period of %s ended; enabling product analytics",
                _days(self.grace_period),
            )
            self._self_enabling = True
            try:
                self._hooks.write_enabled()  # the config listener brings us to available
                if self.state == "grace-period":  # no listener ran: enable all the same
                    self.configure(True)
            except Exception as exc:
                log.error("%%PA-3-ENABLE_FAILED: cannot write 'enabled true': %s", exc)
            else:
                return
            finally:
                self._self_enabling = False
            await self._clock.sleep(GRACE_RETRY)

    async def _report_timer(self) -> None:
        while self.state == "available" and self.period_start is not None:
            period_end = self.period_start + self.reporting_interval
            remaining = period_end - self._clock.time()
            if remaining > 0:
                await self._clock.sleep(remaining)
                continue
            await self.end_period(period_end)

    async def end_period(self, period_end: float, *, raise_errors: bool = False) -> int | None:
        """Generate the report of the period ending at ``period_end`` and start the next.

        A failure is logged and the next period starts anyway (a broken report must not
        stop the ones after it); with ``raise_errors`` (the RPC) it is raised instead and
        the period stays open.
        """
        async with self._period_lock:
            start = self.period_start if self.period_start is not None else period_end
            period_end = max(period_end, start)
            report_id: int | None = None
            try:
                report_id = await self._hooks.generate_report(start, period_end)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a failed report must not stop the next periods
                if raise_errors:
                    raise
                log.error("%%PA-3-REPORT_FAILED: report for %s: %s", date_and_time(period_end), exc)
            else:
                log.info("%%PA-6-REPORT_GENERATED: report %d generated", report_id)
            if self.state == "available":
                self.period_start = period_end
                self._hooks.save_period_start(period_end)
            return report_id

    def set_reporting_interval(self, seconds: float) -> None:
        """A new policy: the running period now ends after the new interval."""
        self.reporting_interval = seconds
        if self.state == "available" and self._report_task is not None:
            self._report_task.cancel()
            self._report_task = asyncio.create_task(self._report_timer(), name="pa-report")

    # --- status -------------------------------------------------------------------------

    @property
    def grace_remaining(self) -> float | None:
        if self.state != "grace-period" or self.grace_end is None:
            return None
        return max(0.0, self.grace_end - self._clock.time())

    @property
    def next_report(self) -> float | None:
        if self.state != "available" or self.period_start is None:
            return None
        return self.period_start + self.reporting_interval
