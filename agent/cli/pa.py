"""``pa``: the operator CLI, speaking NETCONF to a running agent.

It mirrors the device's ``show product-analytics ...`` and ``[no] product-analytics``
commands. Only the connection options exist so far; the commands are added by their own
issue, and ``pa --help`` lists only commands that work.
"""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pa",
        description="Operator CLI for the product analytics agent (NETCONF over SSH). "
        "The password comes from $PA_PASSWORD.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="agent address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8830, help="agent port (default 8830)")
    parser.add_argument("--user", default="admin", help="NETCONF user (default admin)")
    parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
