"""The YANG module passes pyang --strict --lint and yanglint with no warnings."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODULE = ROOT / "yang" / "product-analytics.yang"
BUNDLED = Path(sysconfig.get_paths()["data"]) / "share" / "yang" / "modules"


def test_pyang_strict_lint_is_clean() -> None:
    path = os.pathsep.join([str(ROOT / "yang"), str(BUNDLED / "ietf"), str(BUNDLED / "iana")])
    result = subprocess.run(
        [sys.executable, "-m", "pyang", "--strict", "--lint", "-p", path, str(MODULE)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == "", result.stdout + result.stderr


@pytest.mark.skipif(shutil.which("yanglint") is None, reason="yanglint (libyang2-tools) absent")
def test_yanglint_is_clean() -> None:
    result = subprocess.run(
        ["yanglint", "-p", str(BUNDLED / "ietf"), "-p", str(BUNDLED / "iana"), str(MODULE)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == "", result.stdout + result.stderr


def test_every_node_has_a_description() -> None:
    """RFC 8407 asks for descriptions; pyang --lint checks typedefs, we check data nodes."""
    from pyang import context, repository

    repo = repository.FileRepository(
        os.pathsep.join([str(ROOT / "yang"), str(BUNDLED / "ietf"), str(BUNDLED / "iana")])
    )
    ctx = context.Context(repo)
    module = ctx.add_module(str(MODULE), MODULE.read_text())
    assert module is not None
    ctx.validate()
    missing: list[str] = []

    def walk(stmt: object, path: str) -> None:
        for child in getattr(stmt, "i_children", []):
            here = f"{path}/{child.arg}"
            if child.keyword in ("input", "output"):
                walk(child, here)
                continue
            if child.search_one("description") is None:
                missing.append(here)
            walk(child, here)

    walk(module, "")
    assert missing == []
