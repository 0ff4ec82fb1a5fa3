#!/usr/bin/env python3
"""Device simulator: serve a snapshot of a device's native models over NETCONF/SSH.

Run from the repository root::

    python tools/devsim.py --port 8831 --snapshot tools/snapshots/ie-3200-8p2s \\
        --user admin --password admin

The snapshot layout is that of the ``snapshot`` source (``agent/sources/snapshot.py``):
``running/*.xml`` is served by ``get-config`` (read-only), ``running`` plus
``operational/*.xml`` by ``get``.  Without ``--password`` one is generated and printed.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.sources.base import SourceError
from agent.sources.simulator import DeviceSimulator


async def run(args: argparse.Namespace) -> None:
    simulator = DeviceSimulator(
        args.snapshot,
        host=args.host,
        port=args.port,
        username=args.user,
        password=args.password,
        state_dir=args.state_dir,
    )
    await simulator.start()
    generated = "" if args.password else f" password {simulator.password}"
    print(
        f"devsim: serving {args.snapshot} on {args.host} port {simulator.port} "
        f"(user {args.user}{generated})",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await simulator.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="TCP port (0: any free port)")
    parser.add_argument("--snapshot", type=Path, required=True, metavar="DIR")
    parser.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    parser.add_argument("--user", default="admin", help="user name (default admin)")
    parser.add_argument("--password", help="password (default: generated and printed)")
    parser.add_argument(
        "--state-dir", type=Path, help="host key and users (default: a temporary folder)"
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING)
    try:
        asyncio.run(run(args))
    except SourceError as exc:
        print(f"devsim: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
