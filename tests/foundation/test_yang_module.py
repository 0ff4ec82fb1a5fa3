"""Every YANG module of ours passes pyang --strict --lint and yanglint with no warnings."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OUR_MODULES = sorted((ROOT / "yang").glob("*.yang"))
BUNDLED = Path(sysconfig.get_paths()["data"]) / "share" / "yang" / "modules"


@pytest.mark.parametrize("module", OUR_MODULES, ids=lambda p: p.stem)
def test_pyang_strict_lint_is_clean(module: Path) -> None:
    path = os.pathsep.join([str(ROOT / "yang"), str(BUNDLED / "ietf"), str(BUNDLED / "iana")])
    result = subprocess.run(
        [sys.executable, "-m", "pyang", "--strict", "--lint", "-p", path, str(module)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == "", result.stdout + result.stderr


@pytest.mark.skipif(shutil.which("yanglint") is None, reason="yanglint (libyang2-tools) absent")
@pytest.mark.parametrize("module", OUR_MODULES, ids=lambda p: p.stem)
def test_yanglint_is_clean(module: Path) -> None:
    dirs = [ROOT / "yang", BUNDLED / "ietf", BUNDLED / "iana"]
    result = subprocess.run(
        ["yanglint", *(f"-p{d}" for d in dirs), str(module)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == "", result.stdout + result.stderr


@pytest.mark.parametrize("module_path", OUR_MODULES, ids=lambda p: p.stem)
def test_every_node_has_a_description(module_path: Path) -> None:
    """RFC 8407 asks for descriptions; pyang --lint checks typedefs, we check data nodes."""
    from pyang import context, repository

    repo = repository.FileRepository(
        os.pathsep.join([str(ROOT / "yang"), str(BUNDLED / "ietf"), str(BUNDLED / "iana")])
    )
    ctx = context.Context(repo)
    module = ctx.add_module(str(module_path), module_path.read_text())
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
