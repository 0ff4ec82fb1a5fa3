"""bindings/ is generated from yang/, fresh, and validates config values."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree
from pyangbind.lib.serialise import pybindIETFXMLDecoder, pybindIETFXMLEncoder

from bindings import product_analytics as pa_bindings

ROOT = Path(__file__).resolve().parents[2]
PA_NS = "urn:product-analytics:yang:product-analytics"


def test_bindings_are_not_stale() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "gen_bindings.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_stale_check_detects_a_change(tmp_path: Path) -> None:
    """The check compares against a fresh generation: an edited binding is reported stale."""
    copy = tmp_path / "repo"
    (copy / "tools").mkdir(parents=True)
    for name in ("yang", "bindings"):
        subprocess.run(["cp", "-r", str(ROOT / name), str(copy / name)], check=True)
    (copy / "tools" / "gen_bindings.py").write_text(
        (ROOT / "tools" / "gen_bindings.py").read_text()
    )
    yang = copy / "yang" / "product-analytics.yang"
    yang.write_text(yang.read_text().replace('default "on-disk";', 'default "in-memory";'))
    result = subprocess.run(
        [sys.executable, str(copy / "tools" / "gen_bindings.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "stale" in result.stdout


def populated_config() -> object:
    root = pa_bindings.product_analytics()
    cfg = root.product_analytics
    cfg.enabled = True
    cfg.storage = "in-memory"
    cfg.transport.mode = "direct"
    cfg.transport.url = "https://collector.example.net/pa"
    cfg.transport.retry.max_attempts = 7
    cfg.transport.retry.initial_interval = 30
    cfg.transport.retry.max_interval = 900
    return root


def test_config_round_trips_through_xml() -> None:
    xml = pybindIETFXMLEncoder.serialise(populated_config())
    # pyangbind wraps the module's top-level nodes in an element named after the module.
    container = etree.fromstring(xml.encode()).find(f"{{{PA_NS}}}product-analytics")
    assert container is not None
    assert container.findtext(f"{{{PA_NS}}}storage") == "in-memory"
    assert (
        container.findtext(f"{{{PA_NS}}}transport/{{{PA_NS}}}retry/{{{PA_NS}}}max-attempts") == "7"
    )
    decoded = pybindIETFXMLDecoder.decode(xml, pa_bindings, "product_analytics")
    cfg = decoded.product_analytics
    assert bool(cfg.enabled) is True
    assert str(cfg.storage) == "in-memory"
    assert str(cfg.transport.mode) == "direct"
    assert str(cfg.transport.url) == "https://collector.example.net/pa"
    assert int(cfg.transport.retry.max_attempts) == 7
    assert int(cfg.transport.retry.max_interval) == 900
    assert pybindIETFXMLEncoder.serialise(decoded) == xml


@pytest.mark.parametrize(
    ("setter", "value"),
    [
        ("storage", "bogus"),
        ("transport.mode", "carrier-pigeon"),
        ("transport.retry.max_attempts", 0),
        ("transport.retry.initial_interval", 86401),
        ("enabled", "maybe"),
    ],
)
def test_invalid_values_are_rejected(setter: str, value: object) -> None:
    cfg = pa_bindings.product_analytics().product_analytics
    *parents, leaf = setter.split(".")
    target = cfg
    for name in parents:
        target = getattr(target, name)
    with pytest.raises(ValueError):
        setattr(target, leaf, value)


def test_state_nodes_are_read_only() -> None:
    """config false nodes cannot be set through the public setters (pyangbind PR#323)."""
    cfg = pa_bindings.product_analytics().product_analytics
    assert cfg.status._is_config is False
    with pytest.raises(AttributeError):
        cfg.status.state = "available"
