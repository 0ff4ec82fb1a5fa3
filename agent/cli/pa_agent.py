"""``pa-agent``: run the product analytics agent."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from agent.config import AgentConfig, ConfigError, load_config


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pa-agent",
        description="Open product analytics agent for network devices, "
        "configured and audited over NETCONF/YANG.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    serve = sub.add_parser(
        "serve",
        help="serve NETCONF over SSH and run the analytics engine",
        description="Serve NETCONF over SSH (RFC 6242). On first start in an empty state "
        "directory an SSH host key and the user 'admin' are created; the password comes from "
        "$PA_AGENT_PASSWORD, or is generated, stored hashed and printed once.",
    )
    serve.add_argument("--config", type=Path, metavar="FILE", help="agent configuration (TOML)")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="TCP port to listen on (default 8830)")
    serve.add_argument(
        "--state-dir",
        type=Path,
        metavar="DIR",
        help="host key, users, datastores and the data store (default ~/.local/state/pa-agent)",
    )
    serve.add_argument(
        "--time-scale",
        type=float,
        metavar="X",
        help="run the agent's clock X times faster than real time (demonstrations, tests)",
    )
    serve.add_argument(
        "--policy",
        metavar="NAME|FILE",
        help="shipped policy name (host, cisco-iiot) or a policy file with its .sig beside it",
    )
    serve.add_argument(
        "--source",
        metavar="SOURCE",
        help="native models to read: host (default), snapshot:DIR or netconf://USER@HOST:PORT "
        "(password from $PA_SOURCE_PASSWORD)",
    )
    serve.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    return parser


def config_from_args(args: argparse.Namespace) -> AgentConfig:
    config = load_config(args.config)
    if args.host is not None:
        config.server.host = args.host
    if args.port is not None:
        config.server.port = args.port
    if args.state_dir is not None:
        config.state_dir = args.state_dir
    if args.time_scale is not None:
        if args.time_scale <= 0:
            raise ConfigError("--time-scale must be greater than 0")
        config.time_scale = args.time_scale
    if args.policy is not None:
        config.engine.policy = args.policy
    if args.source is not None:
        config.engine.source = args.source
    return config


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s: %(message)s",
    )
    # asyncssh logs every channel open/close and ncclient every message at INFO; keep that
    # for --verbose only.
    for noisy in ("asyncssh", "ncclient"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    try:
        config = config_from_args(args)
    except ConfigError as exc:
        print(f"pa-agent: {exc}", file=sys.stderr)
        return 2
    from agent.app import serve

    try:
        asyncio.run(serve(config))
    except KeyboardInterrupt:
        return 0
    except ConfigError as exc:  # e.g. a malformed --source, found while composing the agent
        print(f"pa-agent: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
