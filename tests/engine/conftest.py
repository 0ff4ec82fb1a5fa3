"""Fixtures of the engine tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from engine_helpers import PolicySigner


@pytest.fixture
def signer(tmp_path: Path) -> PolicySigner:
    return PolicySigner(tmp_path)
