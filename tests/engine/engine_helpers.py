"""Helpers of the engine tests: a policy signer, a small policy, a minimal snapshot."""

from __future__ import annotations

import asyncio
import base64
import functools
import json
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

IF_NS = "urn:ietf:params:xml:ns:yang:ietf-interfaces"
HW_NS = "urn:ietf:params:xml:ns:yang:ietf-hardware"


class PolicySigner:
    """An Ed25519 key pair in tmp files; signs policies the way tools/sign_policy.py does."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.key = ed25519.Ed25519PrivateKey.generate()
        self.public_path = folder / "test-policy.pub"
        self.public_path.write_bytes(
            self.key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )

    def sign(self, data: bytes) -> str:
        return base64.b64encode(self.key.sign(data)).decode()

    def write(self, path: Path, policy: dict[str, Any] | str | bytes) -> Path:
        if isinstance(policy, dict):
            data = json.dumps(policy, indent=2).encode()
        elif isinstance(policy, str):
            data = policy.encode()
        else:
            data = policy
        path.write_bytes(data)
        path.with_name(path.name + ".sig").write_text(self.sign(data) + "\n")
        return path


def minimal_policy(**overrides: Any) -> dict[str, Any]:
    """A small valid policy over ietf-interfaces and ietf-hardware."""
    policy: dict[str, Any] = {
        "policy-version": "test-1",
        "file-version": 3,
        "reporting-interval": 3600,
        "namespaces": {"if": IF_NS, "hw": HW_NS},
        "sources": [
            {
                "id": "interfaces",
                "datastore": "operational",
                "subtree": f'<interfaces xmlns="{IF_NS}"/>',
                "period": 60,
                "tables": [
                    {
                        "name": "interface",
                        "row-path": "if:interfaces/if:interface",
                        "columns": {
                            "name": {"path": "if:name"},
                            "type": {"path": "if:type", "vocabulary": True},
                            "enabled": {"path": "if:enabled", "type": "bool"},
                            "speed": {"path": "if:speed", "type": "int"},
                        },
                    }
                ],
            },
            {
                "id": "hardware",
                "xpath": "/hw:hardware",
                "period": 600,
                "tables": [
                    {
                        "name": "chassis",
                        "row-path": "hw:hardware/hw:component[hw:class='chassis']",
                        "columns": {
                            "serial": {"path": "hw:serial-num", "vocabulary": True},
                            "model": {"path": "hw:model-name", "vocabulary": True},
                            "sw": {"path": "hw:software-rev", "vocabulary": True},
                            "hw": {"path": "hw:hardware-rev", "vocabulary": True},
                        },
                    }
                ],
            },
        ],
        "kpis": [
            {
                "name": "interfaces_enabled",
                "kind": "sql",
                "query": "SELECT json_group_array(json_object('count', n)) "
                "FROM (SELECT count(*) AS n FROM interface WHERE enabled = 1)",
            },
            {
                "name": "interface_count",
                "kind": "lua",
                "tables": ["interface"],
                "script": "return {{count = #tables.interface}}",
            },
        ],
        "device": {
            "software-version": {"query": "SELECT sw FROM chassis LIMIT 1"},
            "serial-number": {"query": "SELECT serial FROM chassis LIMIT 1"},
            "product-identifier": {"query": "SELECT model FROM chassis LIMIT 1"},
            "vendor-identifier": {"query": "SELECT hw FROM chassis LIMIT 1"},
        },
    }
    policy.update(overrides)
    return policy


INTERFACES_XML = f"""<interfaces xmlns="{IF_NS}">
  <interface><name>eth0</name><type>ethernetCsmacd</type><enabled>true</enabled>
    <speed>1000000000</speed></interface>
  <interface><name>eth1</name><type>ethernetCsmacd</type><enabled>false</enabled></interface>
  <interface><name>lo</name><type>softwareLoopback</type><enabled>true</enabled></interface>
</interfaces>
"""

HARDWARE_XML = f"""<hardware xmlns="{HW_NS}">
  <component><name>chassis</name><class>chassis</class><serial-num>SN123</serial-num>
    <model-name>TEST-8P</model-name><hardware-rev>V01</hardware-rev>
    <software-rev>1.2.3</software-rev></component>
  <component><name>cpu0</name><class>cpu</class></component>
</hardware>
"""


def write_snapshot(folder: Path) -> Path:
    """A minimal snapshot in agent.sources.snapshot's layout (operational/*.xml)."""
    (folder / "operational").mkdir(parents=True, exist_ok=True)
    (folder / "operational" / "interfaces.xml").write_text(INTERFACES_XML)
    (folder / "operational" / "hardware.xml").write_text(HARDWARE_XML)
    return folder


def run_async(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test function in a fresh event loop (no pytest plugin needed)."""

    @functools.wraps(test)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return wrapper
