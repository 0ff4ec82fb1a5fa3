"""Composition root: builds the agent's parts from its configuration and wires them together.

This is the only module that knows every part. The server, the engine and the sources meet
here through the interfaces in ``agent.api``.
"""

from __future__ import annotations

import asyncio
import logging
import signal

from agent.api import Registry
from agent.config import AgentConfig, ConfigError
from agent.engine.clock import ScaledClock
from agent.engine.engine import Engine
from agent.server import NetconfServer
from agent.sources import SourceError, SourceSpecError, open_source

log = logging.getLogger(__name__)


async def serve(config: AgentConfig) -> None:
    """Run the agent until SIGINT or SIGTERM."""
    # collected data, reports, users and the host key live here: private to the agent
    config.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    clock = ScaledClock(config.time_scale)
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
        await server.close()
        await source.close()
