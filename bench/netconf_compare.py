#!/usr/bin/env python3
"""Side-by-side NETCONF benchmark: this agent against the yuma123 netconfd reference server.

Both servers run on loopback on this machine and are measured by the same client
(``../shared/bench/nc_bench.py``, ncclient with its 100 ms send-queue poll worked around),
interleaved round by round so that load from other processes hits both alike.  Per round and
server it measures session setup, get-config, filtered get, and RPC/s with 1, 4 and 16
concurrent sessions.  It prints a Markdown table of the medians over the rounds and the ratio
agent/netconfd, and writes every raw JSON result to ``--out``.

Needs root for netconfd (it is started through a private sshd by
``../shared/bench/start-netconfd.sh``; Debian packages netconfd and openssh-server).

    python bench/netconf_compare.py --rounds 5
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SHARED_BENCH = ROOT.parent / "shared" / "bench"
FILTER = (
    '<netconf-state xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring">'
    "<schemas/></netconf-state>"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on 127.0.0.1:{port}")


def run_client(port: int, user: str, password: str, extra: list[str]) -> dict[str, Any]:
    cmd = [
        sys.executable,
        str(SHARED_BENCH / "nc_bench.py"),
        "--port",
        str(port),
        "--user",
        user,
        "--password",
        password,
        "--filter-xml",
        FILTER,
        *extra,
    ]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def measure(name: str, port: int, user: str, password: str, reps: int) -> dict[str, float]:
    """One round against one server: latencies (ms) and throughput (RPC/s)."""
    base = run_client(port, user, password, ["-n", str(reps), "--setup-reps", "20", "-k", "0"])
    row = {
        "setup_ms": base["setup"]["median_ms"],
        "get_config_ms": base["get_config"]["median_ms"],
        "get_ms": base["get"]["median_ms"],
        "get_config_bytes": base["get_config"]["reply_bytes"],
        "get_bytes": base["get"]["reply_bytes"],
        "loadavg": base["client"]["loadavg_start"],
    }
    for k in (1, 4, 16):
        tput = run_client(
            port, user, password, ["--skip", "setup,session", "-k", str(k), "-m", "100"]
        )["throughput"]
        if tput["errors"]:
            raise SystemExit(f"{name}: errors at concurrency {k}: {tput['first_error']}")
        row[f"rps_{k}"] = tput["total_rpc_per_s"]
    row["loadavg"] = max(row["loadavg"], os.getloadavg()[0])
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--reps", type=int, default=200, help="RPCs per latency test")
    parser.add_argument("--out", type=Path, default=Path("bench-netconf.json"))
    args = parser.parse_args()

    nc_port, agent_port = free_port(), free_port()
    env = dict(os.environ, NC_PORT=str(nc_port), NC_DIR=tempfile.mkdtemp(prefix="netconfd-"))
    subprocess.run([str(SHARED_BENCH / "start-netconfd.sh")], check=True, env=env)
    state = tempfile.mkdtemp(prefix="pa-bench-")
    agent = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "agent.cli.pa_agent",
            "serve",
            "--port",
            str(agent_port),
            "--state-dir",
            state,
        ],
        env=dict(os.environ, PA_AGENT_PASSWORD="bench-password"),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    servers = {
        "netconfd": (nc_port, "nctest", "nctest"),
        "agent": (agent_port, "admin", "bench-password"),
    }
    rows: dict[str, list[dict[str, float]]] = {name: [] for name in servers}
    try:
        wait_for_port(nc_port)
        wait_for_port(agent_port)
        for rnd in range(args.rounds):
            order = list(servers) if rnd % 2 == 0 else list(reversed(servers))
            for name in order:
                rows[name].append(measure(name, *servers[name], reps=args.reps))
                print(f"round {rnd + 1} {name}: {rows[name][-1]}", file=sys.stderr)
    finally:
        agent.terminate()
        agent.wait(timeout=10)
        subprocess.run([str(SHARED_BENCH / "stop-netconfd.sh")], env=env, check=False)
    args.out.write_text(json.dumps(rows, indent=2))

    metrics = [
        ("session setup (ms)", "setup_ms"),
        ("get-config (ms)", "get_config_ms"),
        ("filtered get (ms)", "get_ms"),
        ("RPC/s, 1 session", "rps_1"),
        ("RPC/s, 4 sessions", "rps_4"),
        ("RPC/s, 16 sessions", "rps_16"),
    ]
    print("| metric (median of rounds) | agent | netconfd | agent / netconfd |")
    print("| --- | ---: | ---: | ---: |")
    for label, key in metrics:
        ours = statistics.median(r[key] for r in rows["agent"])
        ref = statistics.median(r[key] for r in rows["netconfd"])
        print(f"| {label} | {ours:.2f} | {ref:.2f} | {ours / ref:.2f} |")
    loads = [r["loadavg"] for name in rows for r in rows[name]]
    sizes = {name: (rows[name][0]["get_config_bytes"], rows[name][0]["get_bytes"]) for name in rows}
    print(
        f"\n1-minute load average during the run: {min(loads):.2f} to {max(loads):.2f} "
        f"({os.cpu_count()} CPUs); reply bytes get-config / filtered get: "
        + ", ".join(f"{name} {a} / {b}" for name, (a, b) in sizes.items())
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
