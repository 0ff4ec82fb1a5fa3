"""Composition root: builds the agent's parts from its configuration and wires them together.

This is the only module that knows every part. The server, the engine and the sources meet
here through the interfaces in ``agent.api``.
"""

from __future__ import annotations

import asyncio
import signal

from agent.api import Registry
from agent.config import AgentConfig
from agent.server import NetconfServer


async def serve(config: AgentConfig) -> None:
    """Run the agent until SIGINT or SIGTERM."""
    config.state_dir.mkdir(parents=True, exist_ok=True)
    registry = Registry()
    server = NetconfServer(config.server, config.state_dir, registry)
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await server.close()
