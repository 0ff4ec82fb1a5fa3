"""Policy format, validation errors, signatures, the signing tool and the built-in fallback."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from engine_helpers import PolicySigner, minimal_policy, write_snapshot

from agent.config import EngineConfig
from agent.engine.clock import ManualClock
from agent.engine.engine import Engine
from agent.engine.policy import (
    BUILTIN_POLICY,
    PACKAGE_POLICY_DIR,
    PROJECT_KEY,
    PolicyError,
    load_policy_file,
    load_public_key,
    load_trusted_keys,
    parse_policy,
    resolve_policy_path,
    verify_policy_bytes,
)
from agent.sources.snapshot import SnapshotSource

REPO = Path(__file__).resolve().parents[2]


def dumps(policy: dict[str, Any]) -> bytes:
    return json.dumps(policy).encode()


def test_minimal_policy_parses() -> None:
    policy = parse_policy(dumps(minimal_policy()))
    assert policy.policy_version == "test-1"
    assert policy.file_version == 3
    assert policy.reporting_interval == 3600
    assert [s.id for s in policy.sources] == ["interfaces", "hardware"]
    assert policy.sources[0].filter_type == "subtree"
    assert policy.sources[1].filter_type == "xpath"
    assert policy.sources[1].datastore == "operational"
    table = policy.table("interface")
    assert table is not None and table.history == "latest"
    assert [(c.name, c.type) for c in table.columns] == [
        ("name", "text"),
        ("type", "text"),
        ("enabled", "bool"),
        ("speed", "int"),
    ]
    assert table.columns[1].vocabulary and not table.columns[0].vocabulary
    assert [(k.name, k.kind, k.tables) for k in policy.kpis] == [
        ("interfaces_enabled", "sql", ()),
        ("interface_count", "lua", ("interface",)),
    ]
    assert set(policy.device) == {
        "software-version",
        "serial-number",
        "product-identifier",
        "vendor-identifier",
    }


def test_reporting_interval_defaults_to_30_days() -> None:
    data = minimal_policy()
    del data["reporting-interval"]
    assert parse_policy(dumps(data)).reporting_interval == 30 * 24 * 3600


def test_documented_example_is_valid() -> None:
    text = (REPO / "docs" / "policy.md").read_text()
    match = re.search(r"```json\n(.*?)```", text, re.S)
    assert match is not None
    policy = parse_policy(match.group(1))
    assert len(policy.kpis) == 2 and len(policy.sources) == 2


def _mutate(path: str, value: Any) -> dict[str, Any]:
    """minimal_policy() with the field at ``path`` (a/b/0/c) set (or deleted if value is ...)."""
    data = minimal_policy()
    node: Any = data
    keys: list[Any] = [int(k) if k.isdigit() else k for k in path.split("/")]
    for key in keys[:-1]:
        node = node[key]
    if value is ...:
        del node[keys[-1]]
    else:
        node[keys[-1]] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("kpis/1/kind", "python", "kpis[1].kind: unknown kind 'python' (expected sql or lua)"),
        ("kpis/0/query", ..., "kpis[0].query: missing"),
        ("kpis/0/name", "bad name", "kpis[0].name: 'bad name' is not a valid KPI name"),
        ("kpis/1/tables", ["nope"], "kpis[1].tables[0]: 'nope' is not a table of this policy"),
        ("kpis/0/category", "misc", "kpis[0].category: unknown value 'misc'"),
        ("policy-version", 7, "policy-version: must be a string"),
        ("file-version", -1, "file-version: must be at least 0"),
        ("file-version", ..., "file-version: missing"),
        ("reporting-interval", "30d", "reporting-interval: must be an integer"),
        ("colour", "blue", "colour: unknown field"),
        ("sources/0/period", 0, "sources[0].period: must be at least 1"),
        ("sources/0/datastore", "candidate", "sources[0].datastore: unknown value 'candidate'"),
        ("sources/0/subtree", "<interfaces", "sources[0].subtree: not well-formed XML"),
        ("sources/0/xpath", "/if:interfaces", "sources[0]: exactly one of 'subtree' or 'xpath'"),
        ("sources/1/xpath", "/hw:hardware[", "sources[1].xpath: bad XPath"),
        ("sources/1/xpath", "/nope:hardware", "sources[1].xpath: bad XPath"),
        ("sources/1/tables", [], "sources[1].tables: at least one table is required"),
        (
            "sources/0/tables/0/columns/speed/type",
            "float",
            "sources[0].tables[0].columns.speed.type: unknown value 'float'",
        ),
        ("sources/0/tables/0/columns/speed/unit", "bps", "columns.speed.unit: unknown field"),
        ("sources/0/tables/0/name", "sqlite_x", "sources[0].tables[0].name: 'sqlite_x'"),
        ("sources/0/tables/0/name", "_hidden", "sources[0].tables[0].name: '_hidden'"),
        ("sources/1/tables/0/name", "Interface", "tables: duplicate name 'Interface'"),
        ("sources/1/id", "interfaces", "sources: duplicate id 'interfaces'"),
        ("sources/0/tables/0/row-path", "if:interfaces/", "tables[0].row-path: bad XPath"),
        ("device/uptime", {"query": "SELECT 1"}, "device.uptime: unknown field"),
        ("device/serial-number", {"query": ""}, "device.serial-number.query: must not be empty"),
        ("policy-version", "1.0\u0001", "policy-version: character U+0001 is not allowed"),
        ("sources/1/xpath", "/hw:hardware\u0000", "sources[1].xpath: character U+0000"),
        ("sources/0/period", 10**400, "sources[0].period: must be at most 4294967295"),
        ("sources/0/timeout", 1e300, "sources[0].timeout: must be a number of seconds"),
        ("file-version", 2**32, "file-version: must be at most 4294967295"),
    ],
)
def test_invalid_policy_names_the_field(path: str, value: Any, message: str) -> None:
    with pytest.raises(PolicyError) as info:
        parse_policy(dumps(_mutate(path, value)))
    assert message in str(info.value)


def test_bad_json_is_refused() -> None:
    with pytest.raises(PolicyError, match="not valid JSON"):
        parse_policy(b'{"policy-version": "1", ')
    with pytest.raises(PolicyError, match="policy: must be an object"):
        parse_policy(b"[1, 2]")
    with pytest.raises(PolicyError, match="not acceptable JSON"):  # more than 4300 digits
        parse_policy(b'{"file-version": ' + b"1" * 5000 + b"}")
    with pytest.raises(PolicyError, match="nested too deeply"):
        parse_policy(b"[" * 100_000 + b"]" * 100_000)


def test_namespace_uri_must_be_xml_text() -> None:
    policy = _mutate("namespaces", {"if": "urn:ietf:params:xml:ns:yang:ietf-interfaces\u0001"})
    with pytest.raises(PolicyError, match=r"namespaces\.if: must be a namespace URI"):
        parse_policy(dumps(policy))


def test_column_shorthand_is_text() -> None:
    data = _mutate("sources/0/tables/0/columns", {"name": "if:name"})
    table = parse_policy(dumps(data)).tables()[0]
    assert table.columns[0].type == "text" and table.columns[0].path == "if:name"


def test_signed_policy_loads(signer: PolicySigner, tmp_path: Path) -> None:
    path = signer.write(tmp_path / "p.json", minimal_policy())
    keys = [load_public_key(signer.public_path)]
    info = load_policy_file(path, keys, now=123.0)
    assert info.source == "file" and info.signature_valid
    assert info.file_path == str(path)
    assert info.signature == path.with_name("p.json.sig").read_text().strip()
    assert info.text == path.read_bytes()
    assert info.loaded_at == 123.0


def test_changed_byte_breaks_the_signature(signer: PolicySigner, tmp_path: Path) -> None:
    path = signer.write(tmp_path / "p.json", minimal_policy())
    path.write_bytes(path.read_bytes().replace(b'"test-1"', b'"test-2"'))
    with pytest.raises(PolicyError, match="does not verify against any trusted key"):
        load_policy_file(path, [load_public_key(signer.public_path)], now=0)


def test_untrusted_key_is_refused(signer: PolicySigner, tmp_path: Path) -> None:
    other = PolicySigner(tmp_path / "other")
    path = other.write(tmp_path / "p.json", minimal_policy())
    with pytest.raises(PolicyError, match="does not verify"):
        load_policy_file(path, [load_public_key(signer.public_path)], now=0)


def test_missing_files_and_bad_base64(signer: PolicySigner, tmp_path: Path) -> None:
    keys = [load_public_key(signer.public_path)]
    with pytest.raises(PolicyError, match="cannot read policy"):
        load_policy_file(tmp_path / "absent.json", keys, now=0)
    path = tmp_path / "unsigned.json"
    path.write_bytes(dumps(minimal_policy()))
    with pytest.raises(PolicyError, match="cannot read signature"):
        load_policy_file(path, keys, now=0)
    path.with_name("unsigned.json.sig").write_text("not base64 !!!")
    with pytest.raises(PolicyError, match="not valid base64"):
        load_policy_file(path, keys, now=0)


def test_signature_is_checked_before_parsing(signer: PolicySigner) -> None:
    # Garbage with a bad signature reports the signature, not a JSON error: nothing
    # unverified is parsed.
    with pytest.raises(PolicyError, match="does not verify"):
        verify_policy_bytes(
            b"{garbage", base64.b64encode(b"x" * 64), [load_public_key(signer.public_path)]
        )
    # A well-signed but invalid policy is refused by validation.
    data = dumps(_mutate("kpis/0/kind", "python"))
    with pytest.raises(PolicyError, match="unknown kind 'python'"):
        verify_policy_bytes(data, signer.sign(data), [load_public_key(signer.public_path)])


def test_ecdsa_p256_signatures_verify(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pub = tmp_path / "ec.pub"
    pub.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    data = dumps(minimal_policy())
    signature = base64.b64encode(key.sign(data, ec.ECDSA(hashes.SHA256())))
    policy = verify_policy_bytes(data, signature, [load_public_key(pub)])
    assert policy.file_version == 3


def test_other_key_types_are_refused(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    pub = tmp_path / "p384.pub"
    pub.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    with pytest.raises(PolicyError, match="only Ed25519 and ECDSA P-256"):
        load_public_key(pub)
    (tmp_path / "junk.pub").write_text("hello")
    with pytest.raises(PolicyError, match="not a PEM public key"):
        load_public_key(tmp_path / "junk.pub")


def test_project_key_is_shipped_and_trusted() -> None:
    assert PROJECT_KEY.exists()
    assert len(load_trusted_keys()) == 1


def test_resolve_policy_names_and_files() -> None:
    assert resolve_policy_path("host") == PACKAGE_POLICY_DIR / "host.json"
    assert resolve_policy_path("cisco-iiot") == PACKAGE_POLICY_DIR / "cisco-iiot.json"
    assert resolve_policy_path("./mine.json") == Path("./mine.json")
    assert resolve_policy_path("/etc/pa/p.json") == Path("/etc/pa/p.json")
    assert resolve_policy_path("p.json") == Path("p.json")


def test_sign_policy_tool_round_trip(tmp_path: Path) -> None:
    tool = [sys.executable, str(REPO / "tools" / "sign_policy.py")]
    key = tmp_path / "k.pem"
    run = subprocess.run([*tool, "keygen", "--key", str(key)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert key.exists() and (tmp_path / "k.pub").exists()
    policy = tmp_path / "p.json"
    policy.write_bytes(dumps(minimal_policy()))
    run = subprocess.run(
        [*tool, "sign", "--key", str(key), str(policy)], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    ok = subprocess.run(
        [*tool, "verify", "--pub", str(tmp_path / "k.pub"), str(policy)],
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stderr
    assert "signature valid" in ok.stdout and "2 KPIs" in ok.stdout
    # Without the key the project key alone does not verify it.
    bad = subprocess.run([*tool, "verify", str(policy)], capture_output=True, text=True)
    assert bad.returncode == 1 and "does not verify" in bad.stderr
    # An invalid policy is not signed unless asked to.
    policy.write_bytes(dumps(_mutate("kpis/0/kind", "python")))
    refused = subprocess.run(
        [*tool, "sign", "--key", str(key), str(policy)], capture_output=True, text=True
    )
    assert refused.returncode == 1 and "unknown kind 'python'" in refused.stderr
    # keygen never overwrites a key.
    again = subprocess.run([*tool, "keygen", "--key", str(key)], capture_output=True, text=True)
    assert again.returncode != 0 and "refusing to overwrite" in again.stderr


def _engine(tmp_path: Path, policy: str, keys: list[str] | None = None) -> Engine:
    config = EngineConfig(policy=policy, trusted_keys=keys or [])
    source = SnapshotSource(write_snapshot(tmp_path / "snap"))
    return Engine(config, tmp_path / "state", ManualClock(), source)


@pytest.mark.parametrize("problem", ["missing", "bad-json", "bad-kind", "bad-signature", "no-sig"])
def test_engine_falls_back_to_builtin_policy(
    problem: str, signer: PolicySigner, tmp_path: Path
) -> None:
    path = tmp_path / "p.json"
    if problem == "bad-json":
        signer.write(path, b'{"policy-version": ')
    elif problem == "bad-kind":
        signer.write(path, dumps(_mutate("kpis/0/kind", "python")))
    elif problem == "bad-signature":
        signer.write(path, minimal_policy())
        path.write_bytes(path.read_bytes() + b"\n")
    elif problem == "no-sig":
        path.write_bytes(dumps(minimal_policy()))
    engine = _engine(tmp_path, str(path), [str(signer.public_path)])
    info = engine.policy_info
    assert info.source == "built-in" and info.policy is BUILTIN_POLICY
    assert info.rejection_reason
    assert info.file_path == str(path)
    entries = [(e.event, e.rc, e.context) for e in engine.events.entries()]
    assert ("CRASH", 0, "crash with builtin policy") in entries
    assert any(e == "POLICY_REJECTED" and rc == 1 for e, rc, _ in entries)
    xml = engine.policy_xml()
    assert xml.findtext("{*}source") == "built-in"
    assert xml.findtext("{*}policy-version") == "built-in"
    assert xml.findtext("{*}rejection-reason") == info.rejection_reason


def test_engine_loads_a_good_policy(signer: PolicySigner, tmp_path: Path) -> None:
    path = signer.write(tmp_path / "p.json", minimal_policy())
    engine = _engine(tmp_path, str(path), [str(signer.public_path)])
    assert engine.policy_info.source == "file"
    xml = engine.policy_xml()
    assert xml.findtext("{*}source") == "file"
    assert xml.findtext("{*}file-version") == "3"
    assert xml.findtext("{*}signature-valid") == "true"
    assert xml.findtext("{*}reporting-interval") == "3600"
    assert not any(e.event == "CRASH" for e in engine.events.entries())
