"""README shows the current YANG tree and the CLIs answer --help."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_readme_yang_tree_is_current() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "gen_yang_tree.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_pa_agent_help_lists_serve() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "agent.cli.pa_agent", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0
    assert "serve" in result.stdout
    serve = subprocess.run(
        [sys.executable, "-m", "agent.cli.pa_agent", "serve", "--help"],
        capture_output=True,
        text=True,
    )
    assert serve.returncode == 0
    for option in (
        "--config",
        "--host",
        "--port",
        "--state-dir",
        "--time-scale",
        "--policy",
        "--source",
    ):
        assert option in serve.stdout


def test_readme_quick_start_commands_exist() -> None:
    readme = (ROOT / "README.md").read_text()
    for command in ("./tools/run.sh", "./tools/test.sh"):
        assert command in readme
        assert (ROOT / command).exists()
    assert "./tools/test.sh" in (ROOT / ".ci" / "run").read_text()


def test_pa_help_works() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "agent.cli.pa", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0
    assert "--host" in result.stdout and "--port" in result.stdout
