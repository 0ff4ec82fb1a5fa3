"""Validate host-model data with yanglint against pyang's bundled IETF/IANA modules."""

from __future__ import annotations

import shutil
import subprocess
import sysconfig
from pathlib import Path

from lxml import etree

from agent.sources.host import HOST_FEATURES, HOST_MODULES

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = Path(sysconfig.get_paths()["data"]) / "share" / "yang" / "modules"
SEARCH = [BUNDLED / "ietf", BUNDLED / "iana", ROOT / "yang"]


def module_file(name: str) -> Path:
    for folder in SEARCH:
        path = folder / f"{name}.yang"
        if path.exists():
            return path
    raise FileNotFoundError(name)


def yanglint(
    data: etree._Element, tmp_path: Path, *, config: bool
) -> subprocess.CompletedProcess[str]:
    """Run yanglint on the children of a ``<data>`` element (strict: unknown nodes fail)."""
    exe = shutil.which("yanglint")
    assert exe is not None, "yanglint is not installed"
    body = b"".join(etree.tostring(child) for child in data)
    path = tmp_path / ("config.xml" if config else "data.xml")
    path.write_bytes(body)
    cmd = [exe]
    for folder in SEARCH:
        cmd += ["-p", str(folder)]
    for module in HOST_MODULES:
        features = HOST_FEATURES.get(module, ())
        cmd += ["-F", f"{module}:{','.join(features)}"]
    cmd += ["-t", "config" if config else "data", "-e"]
    cmd += [str(module_file(m)) for m in HOST_MODULES]
    cmd.append(str(path))
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def assert_valid(data: etree._Element, tmp_path: Path, *, config: bool = False) -> None:
    result = yanglint(data, tmp_path, config=config)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "err" not in result.stderr.lower(), result.stderr
