"""Composition root: builds the agent's parts from its configuration and wires them together.

This is the only module that knows every part. The server, the engine and the sources meet
here through the interfaces in ``agent.api``.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time

from agent.api import Registry
from agent.config import AgentConfig, ConfigError
from agent.engine.clock import ScaledClock
from agent.engine.engine import Engine
from agent.fileutil import write_atomically
from agent.server import NetconfServer
from agent.sources import SourceError, SourceSpecError, open_source

log = logging.getLogger(__name__)


async def serve(config: AgentConfig) -> None:
    """Run the agent until SIGINT or SIGTERM."""
    # collected data, reports, users and the host key live here: private to the agent
    config.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    clock = _scaled_clock(config)
    try:
        source = open_source(config.engine.source, state_dir=config.state_dir)
    except (SourceSpecError, SourceError) as exc:
        raise ConfigError(f"--source {config.engine.source}: {exc}") from exc
    registry = Registry()
    if config.engine.source.strip() == "host":
        # The host's own native models are also served read-only over NETCONF.
        from agent.sources.host import HostSource, host_state_providers

        assert isinstance(source, HostSource)
        for provider in host_state_providers(source):
            registry.add_state_provider(provider)
    engine = Engine(config.engine, config.state_dir, clock, source)
    engine.register(registry)
    server = NetconfServer(config.server, config.state_dir, registry)
    await server.start()
    if config.time_scale != 1.0:
        log.info("agent clock runs %g times faster than real time", config.time_scale)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await engine.start(server.config_writer)
        await stop.wait()
    finally:
        await engine.stop()
        _save_agent_time(config, clock)
        await server.close()
        await source.close()


# A sped-up clock starts from real "now" on every start; without this file a restart would
# send agent time back (reports, period starts and grace ends already stored lie ahead).
_AGENT_TIME_FILE = "agent-time"


def _scaled_clock(config: AgentConfig) -> ScaledClock:
    if config.time_scale == 1.0:
        return ScaledClock()
    try:
        saved = float((config.state_dir / _AGENT_TIME_FILE).read_text())
    except (OSError, ValueError):
        saved = 0.0
    return ScaledClock(config.time_scale, start=max(time.time(), saved))


def _save_agent_time(config: AgentConfig, clock: ScaledClock) -> None:
    if config.time_scale != 1.0:
        write_atomically(config.state_dir / _AGENT_TIME_FILE, f"{clock.time():.3f}\n".encode())
