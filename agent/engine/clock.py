"""The engine's one clock: every timer, sleep and timestamp in the engine goes through it.

``ScaledClock`` runs ``scale`` times faster than real time (``--time-scale``), so a 7-day
grace period or a 30-day reporting interval can pass in seconds in a demonstration or a
test.  ``ManualClock`` only moves when a test advances it.  Durations of operations that
are *measured* (statistics) use the real ``time.perf_counter_ns`` instead: a write takes as
long as it takes whatever the agent's notion of time.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from typing import Protocol


class Clock(Protocol):
    """Agent time: ``time()`` is wall-clock Unix seconds, ``monotonic()`` never jumps."""

    def time(self) -> float: ...

    def monotonic(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class ScaledClock:
    """Real time, optionally sped up: agent time = start + (real elapsed) * scale.

    ``start`` (default: now) lets a sped-up agent resume from the agent time it had reached
    before a restart, so that its timestamps never go back.
    """

    def __init__(self, scale: float = 1.0, start: float | None = None) -> None:
        if scale <= 0:
            raise ValueError("time scale must be greater than 0")
        self.scale = scale
        self._wall0 = time.time() if start is None else start
        self._mono0 = time.monotonic()

    def monotonic(self) -> float:
        return self._mono0 + (time.monotonic() - self._mono0) * self.scale

    def time(self) -> float:
        return self._wall0 + (time.monotonic() - self._mono0) * self.scale

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.scale)


class ManualClock:
    """A clock for tests: time stands still until ``advance`` moves it.

    Sleepers wake, in deadline order, when the clock passes their deadline.  ``advance``
    is async so that woken tasks get to run before it returns.
    """

    def __init__(self, start: float = 1_750_000_000.0) -> None:
        self._now = start
        self._start = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def time(self) -> float:
        return self._now

    def monotonic(self) -> float:
        return self._now - self._start

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._seq), future))
        await future

    async def advance(self, seconds: float) -> None:
        """Move time forward, waking each sleeper at its deadline in turn."""
        target = self._now + seconds
        await self._settle()
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, future = heapq.heappop(self._sleepers)
            self._now = max(self._now, deadline)
            if not future.done():
                future.set_result(None)
            await self._settle()
        self._now = target
        await self._settle()

    async def _settle(self) -> None:
        # Let woken tasks run until they block again (they may schedule new sleeps).
        for _ in range(20):
            await asyncio.sleep(0)


def date_and_time(timestamp: float) -> str:
    """Unix seconds as a YANG ``date-and-time`` in UTC with milliseconds."""
    whole = int(timestamp)
    millis = round((timestamp - whole) * 1000)
    if millis == 1000:
        whole, millis = whole + 1, 0
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{millis:03d}Z"
