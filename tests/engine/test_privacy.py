"""The privacy guard: identifying patterns and operator-typed text never pass."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kpi_helpers import SEED_VALUES, fill, make_engine, make_policy

from agent.engine.privacy import PrivacyGuard, carries_identity, pattern_violation


@pytest.mark.parametrize("value", list(SEED_VALUES.values()))
def test_seed_values_pass(value: str) -> None:
    assert PrivacyGuard().check(json.loads(value)) is None


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("10.1.2.3", "IPv4 address"),
        ("peer 192.168.0.254/24", "IPv4 address"),
        ("2001:db8::1", "IPv6 address"),
        ("fe80::1ff:fe23:4567:890a", "IPv6 address"),
        ("::1", "IPv6 address"),
        ("00:1b:44:11:3a:b7", "MAC address"),
        ("00-1B-44-11-3A-B7", "MAC address"),
        ("001b.4411.3ab7", "MAC address"),
        ("ops@example.com", "e-mail address"),
        ("https://collector.example.net/pa", "URL"),
        ("www.example", "URL"),
        ("switch7.plant.example.com", "host name"),
        ("core.example", "host name"),
        ("link to the packing hall", "free text"),
        ("10-1-1-1", "IPv4 address"),
        ("ip-192-168-0-10", "IPv4 address"),
    ],
)
def test_identifying_patterns_are_found(text: str, rule: str) -> None:
    violation = pattern_violation(text)
    assert violation is not None
    assert violation.rule == rule


@pytest.mark.parametrize(
    "text",
    [
        "true",
        "GLC-SX-MMD",
        "IE-3200-8P2S",
        "FOC2320V0J9",
        "17.18.1",
        "17.18.01.0.218947.1743507540..IOSXE",
        "999.1.1.1",  # not an address: an octet above 255
        "08:22:20",
        "iana-if-type:ethernetCsmacd",
        "fq_codel",
        "multi-domain",
        "Gigabit Ethernet",
        "2025-05-20",
        "1-2-3",
        "EC2045000123",  # a serial number: bare twelve hex digits are not taken for a MAC
    ],
)
def test_vocabulary_passes_the_patterns(text: str) -> None:
    assert pattern_violation(text) is None


def test_keys_are_checked_too() -> None:
    assert PrivacyGuard().check([{"10.0.0.1": 1}]) is not None
    assert PrivacyGuard(["line7-sw-east"]).check([{"line7-sw-east": 1}]) is not None


def test_operator_text_equal_or_contained() -> None:
    guard = PrivacyGuard(["Line7-SW-East", "ab", "42", "true", "  "])
    assert guard.check([{"h": "line7-sw-east"}]) is not None  # equal, case-insensitive
    assert guard.check([{"h": "x-line7-sw-east-y"}]) is not None  # contained
    assert guard.check([{"h": "ab"}]) is not None  # short: equality only
    assert guard.check([{"h": "tab"}]) is None
    # Numbers and state words identify nothing on their own and never count.
    assert guard.check([{"n": "42", "enabled": "true"}]) is None
    assert guard.operator_text_count == 2
    long_value = "z" * 200 + "line7-sw-east"
    assert guard.check([long_value]) is not None


def test_carries_identity() -> None:
    assert carries_identity("plant-floor-uplink")
    assert not carries_identity("Enabled")
    assert not carries_identity("3.5")
    assert not carries_identity("")


def test_operator_text_comes_from_non_vocabulary_text_columns(tmp_path: Path) -> None:
    engine = make_engine(tmp_path, make_policy([]))
    fill(engine.store)
    guard = PrivacyGuard.from_store(engine.policy_info.policy, engine.store)
    # interface.name, interface.description and system.hostname are operator text;
    # chassis, transceiver and system.mgmt_ip are declared vocabulary.
    assert guard.check(["plant-floor-uplink"]) is not None
    assert guard.check(["line7-sw-east"]) is not None
    assert guard.check(["GigabitEthernet1/1"]) is not None
    assert guard.check(["FOC2320V0J9", "GLC-SX-MMD", "Switch1"]) is None
    assert guard.operator_text_count == 6
