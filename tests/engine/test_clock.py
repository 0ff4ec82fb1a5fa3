"""The sped-up clock resumes from the agent time a previous run reached."""

from __future__ import annotations

import time
from pathlib import Path

from agent.app import _save_agent_time, _scaled_clock
from agent.config import AgentConfig
from agent.engine.clock import ScaledClock


def test_scaled_clock_runs_faster_from_its_start() -> None:
    start = time.time() + 1_000_000
    clock = ScaledClock(1000.0, start=start)
    first = clock.time()
    assert first >= start
    time.sleep(0.01)
    assert clock.time() - first >= 5  # 10 ms of real time is 10 s of agent time


def test_agent_time_survives_a_restart_when_sped_up(tmp_path: Path) -> None:
    config = AgentConfig(state_dir=tmp_path, time_scale=100_000.0)
    first = _scaled_clock(config)
    time.sleep(0.01)
    reached = first.time()
    assert reached > time.time() + 500  # well ahead of real time
    _save_agent_time(config, first)
    second = _scaled_clock(config)
    assert second.time() >= reached


def test_real_time_agents_keep_no_agent_time(tmp_path: Path) -> None:
    config = AgentConfig(state_dir=tmp_path, time_scale=1.0)
    clock = _scaled_clock(config)
    _save_agent_time(config, clock)
    assert not (tmp_path / "agent-time").exists()
    assert abs(clock.time() - time.time()) < 1
