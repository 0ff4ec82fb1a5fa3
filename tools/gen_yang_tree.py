#!/usr/bin/env python3
"""Regenerate the YANG tree (``pyang -f tree``) shown in README.md.

The tree sits between the markers ``<!-- yang-tree:begin -->`` and ``<!-- yang-tree:end -->``.
``--check`` exits 1 when README.md does not show the current tree.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gen_bindings import ROOT, YANG_DIR, bundled_yang_dirs

README = ROOT / "README.md"
BEGIN = "<!-- yang-tree:begin -->"
END = "<!-- yang-tree:end -->"


def yang_tree() -> str:
    path = os.pathsep.join(str(d) for d in [YANG_DIR, *bundled_yang_dirs()])
    cmd = [
        sys.executable,
        "-m",
        "pyang",
        "-f",
        "tree",
        "-p",
        path,
        str(YANG_DIR / "product-analytics.yang"),
    ]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def render(readme: str, tree: str) -> str:
    try:
        head, rest = readme.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
    except ValueError:
        raise SystemExit(f"README.md lacks the markers {BEGIN} ... {END}") from None
    return f"{head}{BEGIN}\n```\n{tree.rstrip()}\n```\n{END}{tail}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if README.md is stale")
    args = parser.parse_args()
    current = README.read_text()
    wanted = render(current, yang_tree())
    if args.check:
        if wanted != current:
            print("README.md YANG tree is stale: run python tools/gen_yang_tree.py")
            return 1
        print("README.md YANG tree is up to date")
        return 0
    README.write_text(wanted)
    print(f"updated {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
