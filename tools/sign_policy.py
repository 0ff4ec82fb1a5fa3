#!/usr/bin/env python3
"""Sign and verify analytics policy files (detached Ed25519 signatures).

    python tools/sign_policy.py keygen --key tools/keys/my.pem [--pub my.pub]
    python tools/sign_policy.py sign --key tools/keys/project-policy-ed25519.pem POLICY.json
    python tools/sign_policy.py verify [--pub KEY.pub ...] POLICY.json

``sign`` writes ``POLICY.json.sig``: base64 of the signature over the exact file bytes.
``verify`` checks it the way the agent does (the project key plus any ``--pub``) and also
validates the policy, so a file that verifies here loads in the agent.
"""

from __future__ import annotations

import argparse
import base64
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.engine.policy import (
    PolicyError,
    load_public_key,
    load_trusted_keys,
    signature_path,
    verify_policy_bytes,
)


def keygen(key_path: Path, pub_path: Path | None) -> None:
    if key_path.exists():
        raise SystemExit(f"sign_policy: {key_path} exists; refusing to overwrite it")
    key = ed25519.Ed25519PrivateKey.generate()
    key_path.parent.mkdir(parents=True, exist_ok=True)
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    pub = pub_path or key_path.with_suffix(".pub")
    pub.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    print(f"private key {key_path}, public key {pub}")


def sign_bytes(key_path: Path, data: bytes) -> str:
    """Base64 Ed25519 signature of ``data`` with the PEM private key at ``key_path``."""
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise SystemExit(f"sign_policy: {key_path} is not an Ed25519 private key")
    return base64.b64encode(key.sign(data)).decode()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sign_policy", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_keygen = sub.add_parser("keygen", help="create an Ed25519 key pair (PEM)")
    p_keygen.add_argument("--key", type=Path, required=True, help="private key file to create")
    p_keygen.add_argument("--pub", type=Path, help="public key file (default KEY with .pub)")
    p_sign = sub.add_parser("sign", help="write POLICY.sig")
    p_sign.add_argument("--key", type=Path, required=True, help="PEM Ed25519 private key")
    p_sign.add_argument("--no-check", action="store_true", help="sign even an invalid policy")
    p_sign.add_argument("policy", type=Path)
    p_verify = sub.add_parser("verify", help="verify POLICY.sig and validate the policy")
    p_verify.add_argument("--pub", type=Path, action="append", default=[], help="trusted key")
    p_verify.add_argument("policy", type=Path)
    args = parser.parse_args(argv)

    if args.command == "keygen":
        keygen(args.key, args.pub)
        return 0
    data = args.policy.read_bytes()
    if args.command == "sign":
        if not args.no_check:
            from agent.engine.policy import parse_policy

            try:
                parse_policy(data)
            except PolicyError as exc:
                print(f"sign_policy: {args.policy}: {exc}", file=sys.stderr)
                return 1
        signature = sign_bytes(args.key, data)
        signature_path(args.policy).write_text(signature + "\n")
        print(f"signed {args.policy} -> {signature_path(args.policy)}")
        return 0
    try:
        keys = load_trusted_keys()
        keys.extend(load_public_key(p) for p in args.pub)
        sig = signature_path(args.policy).read_text()
        policy = verify_policy_bytes(data, sig, keys)
    except (OSError, PolicyError) as exc:
        print(f"sign_policy: {args.policy}: {exc}", file=sys.stderr)
        return 1
    print(
        f"{args.policy}: signature valid, policy-version {policy.policy_version}, "
        f"file-version {policy.file_version}, {len(policy.sources)} sources, "
        f"{len(policy.kpis)} KPIs"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
