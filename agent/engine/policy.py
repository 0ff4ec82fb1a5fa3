"""The analytics policy: what to read, how to turn it into table rows, which KPIs to compute.

A policy is a JSON file (schema in ``docs/policy.md``) with a detached signature beside it
(``<file>.sig``: base64 of an Ed25519 or ECDSA P-256/SHA-256 signature over the exact file
bytes).  It is verified against trusted PEM public keys, then validated field by field; every
error names the bad field (``kpis[3].kind: unknown kind 'python' (expected sql or lua)``).
When no valid policy can be loaded the agent runs the built-in policy, which reads nothing.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from lxml import etree

PACKAGE_POLICY_DIR = Path(__file__).resolve().parent.parent / "policies"
PROJECT_KEY = PACKAGE_POLICY_DIR / "trusted" / "project-ed25519.pub"

DEFAULT_REPORTING_INTERVAL = 30 * 24 * 3600
BUILTIN_POLICY_VERSION = "built-in"
MAX_POLICY_BYTES = 4 * 1024 * 1024

ColumnType = Literal["int", "real", "text", "bool"]
KpiKind = Literal["sql", "lua"]
COLUMN_TYPES: tuple[str, ...] = ("int", "real", "text", "bool")
KPI_KINDS: tuple[str, ...] = ("sql", "lua")
KPI_CATEGORIES: tuple[str, ...] = ("feature", "serviceability")
DEVICE_FIELDS: tuple[str, ...] = (
    "software-version",
    "serial-number",
    "product-identifier",
    "vendor-identifier",
)

# Table and column names go into SQL unquoted by policy authors, so they are plain
# identifiers; a leading letter keeps them apart from the store's own ``_pa_`` tables and
# the implicit ``_ts`` column.
_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")
_KPI_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_SOURCE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_PREFIX = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
MAX_READ_TIMEOUT = 3600  # seconds one source read may take


class PolicyError(ValueError):
    """A policy file is missing, unreadable, badly signed or invalid; the message says why."""


@dataclass(frozen=True)
class ColumnSpec:
    """One column of a normalised table: an XPath relative to the row node and a type."""

    name: str
    path: str
    type: ColumnType
    vocabulary: bool = False  # text from a fixed model vocabulary, not operator-typed text


@dataclass(frozen=True)
class TableSpec:
    """How a source's reply becomes rows: one row per node ``row_path`` selects."""

    name: str
    row_path: str
    columns: tuple[ColumnSpec, ...]
    history: Literal["latest", "period"] = "latest"


@dataclass(frozen=True)
class SourceSpec:
    """One read of the device's native models and the tables it fills."""

    id: str
    datastore: Literal["running", "operational"]
    filter_type: Literal["subtree", "xpath"]
    filter: str
    namespaces: Mapping[str, str]
    period: float
    on_change: bool
    tables: tuple[TableSpec, ...]
    timeout: float = 30.0  # real seconds one read may take


@dataclass(frozen=True)
class KpiSpec:
    """One KPI: an SQL query or a Lua script whose result is a JSON value."""

    name: str
    kind: KpiKind
    code: str  # the SQL query or the Lua script
    tables: tuple[str, ...] = ()  # tables handed to a Lua script
    category: Literal["feature", "serviceability"] = "feature"


@dataclass(frozen=True)
class Policy:
    """A validated policy."""

    policy_version: str
    file_version: int
    reporting_interval: int
    sources: tuple[SourceSpec, ...] = ()
    kpis: tuple[KpiSpec, ...] = ()
    device: Mapping[str, str] = field(default_factory=dict)  # identity field -> SQL query

    def tables(self) -> list[TableSpec]:
        """Every table the policy's sources fill, in policy order."""
        return [table for source in self.sources for table in source.tables]

    def table(self, name: str) -> TableSpec | None:
        for table in self.tables():
            if table.name == name:
                return table
        return None


BUILTIN_POLICY = Policy(
    policy_version=BUILTIN_POLICY_VERSION,
    file_version=0,
    reporting_interval=DEFAULT_REPORTING_INTERVAL,
)


@dataclass(frozen=True)
class PolicyInfo:
    """The policy in use and where it came from (``/pa:product-analytics/policy``)."""

    policy: Policy
    source: Literal["file", "built-in"]
    file_path: str | None = None
    signature: str | None = None  # base64, as in the .sig file
    signature_valid: bool = False
    loaded_at: float = 0.0  # agent wall time
    rejection_reason: str | None = None
    text: bytes = b""  # the exact signed bytes


# --- signatures -------------------------------------------------------------------------


TrustedKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey


def load_public_key(path: Path) -> TrustedKey:
    """Read a PEM public key (Ed25519 or ECDSA P-256)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PolicyError(f"trusted key {path}: cannot read: {exc.strerror}") from exc
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise PolicyError(f"trusted key {path}: not a PEM public key") from exc
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return key
    raise PolicyError(f"trusted key {path}: only Ed25519 and ECDSA P-256 keys are supported")


def load_trusted_keys(extra: Iterable[str | Path] = ()) -> list[TrustedKey]:
    """The project key shipped with the agent plus the operator's keys (PEM paths)."""
    keys = [load_public_key(PROJECT_KEY)] if PROJECT_KEY.exists() else []
    keys.extend(load_public_key(Path(p)) for p in extra)
    return keys


def decode_signature(text: str | bytes) -> bytes:
    """Decode a base64 signature (whitespace and line breaks allowed)."""
    raw = text.encode() if isinstance(text, str) else text
    try:
        return base64.b64decode(b"".join(raw.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise PolicyError("signature is not valid base64") from exc


def verify_signature(data: bytes, signature: bytes, keys: Sequence[TrustedKey]) -> None:
    """Raise PolicyError unless one of ``keys`` signed ``data``."""
    if not keys:
        raise PolicyError("no trusted policy keys are configured")
    for key in keys:
        try:
            if isinstance(key, ed25519.Ed25519PublicKey):
                key.verify(signature, data)
            else:
                key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            continue
        return
    raise PolicyError("signature does not verify against any trusted key")


# --- validation -------------------------------------------------------------------------


# Characters XML 1.0 cannot carry (C0 controls but tab, LF and CR; surrogates; U+FFFE/F).
_NOT_XML_CHAR = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


class _Fields:
    """Reads one JSON object's fields, naming the path in every error."""

    def __init__(self, value: object, where: str) -> None:
        if not isinstance(value, dict):
            raise PolicyError(f"{where or 'policy'}: must be an object")
        self.data: dict[str, Any] = value
        self.where = where
        self.used: set[str] = set()

    def path(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def get(self, key: str, default: object = None, *, required: bool = False) -> Any:
        self.used.add(key)
        if key not in self.data:
            if required:
                raise PolicyError(f"{self.path(key)}: missing")
            return default
        return self.data[key]

    def string(self, key: str, *, required: bool = True, default: str = "") -> str:
        value = self.get(key, default, required=required)
        if not isinstance(value, str):
            raise PolicyError(f"{self.path(key)}: must be a string")
        bad = _NOT_XML_CHAR.search(value)
        if bad is not None:
            # every string of a policy may end up in XML (state, XPath, filters), which
            # cannot carry these characters
            raise PolicyError(
                f"{self.path(key)}: character U+{ord(bad.group()):04X} is not allowed"
            )
        return value

    def integer(
        self, key: str, *, default: int | None = None, minimum: int = 0, maximum: int = 2**32 - 1
    ) -> int:
        value = self.get(key, default, required=default is None)
        if not isinstance(value, int) or isinstance(value, bool):
            raise PolicyError(f"{self.path(key)}: must be an integer")
        if value < minimum:
            raise PolicyError(f"{self.path(key)}: must be at least {minimum}")
        if value > maximum:
            raise PolicyError(f"{self.path(key)}: must be at most {maximum}")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self.get(key, default)
        if not isinstance(value, bool):
            raise PolicyError(f"{self.path(key)}: must be true or false")
        return value

    def choice(self, key: str, choices: Sequence[str], default: str | None = None) -> str:
        value = self.get(key, default, required=default is None)
        if not isinstance(value, str) or value not in choices:
            expected = " or ".join(choices)
            raise PolicyError(f"{self.path(key)}: unknown value {value!r} (expected {expected})")
        return value

    def array(self, key: str) -> list[Any]:
        value = self.get(key, [])
        if not isinstance(value, list):
            raise PolicyError(f"{self.path(key)}: must be an array")
        return value

    def done(self) -> None:
        """Unknown keys are errors, so a typo never passes silently."""
        extra = sorted(set(self.data) - self.used - {"description", "comment"})
        if extra:
            raise PolicyError(f"{self.path(extra[0])}: unknown field")


def _check_xpath(expr: str, namespaces: Mapping[str, str], where: str) -> None:
    try:
        etree.XPath(expr, namespaces=dict(namespaces))
    except etree.XPathSyntaxError as exc:
        raise PolicyError(f"{where}: bad XPath {expr!r}: {exc}") from exc
    # Undefined prefixes only show when evaluated; an empty document finds them.
    try:
        etree.XPath(expr, namespaces=dict(namespaces))(etree.Element("data"))
    except etree.XPathEvalError as exc:
        raise PolicyError(f"{where}: bad XPath {expr!r}: {exc}") from exc


def _namespaces(fields: _Fields, inherited: Mapping[str, str]) -> dict[str, str]:
    value = fields.get("namespaces", {})
    where = fields.path("namespaces")
    if not isinstance(value, dict):
        raise PolicyError(f"{where}: must be an object mapping prefixes to namespace URIs")
    result = dict(inherited)
    for prefix, uri in value.items():
        if not _PREFIX.match(prefix):
            raise PolicyError(f"{where}.{prefix}: not a valid XML prefix")
        if not isinstance(uri, str) or not uri or _NOT_XML_CHAR.search(uri):
            raise PolicyError(f"{where}.{prefix}: must be a namespace URI")
        result[prefix] = uri
    return result


def _column(name: str, value: object, where: str, namespaces: Mapping[str, str]) -> ColumnSpec:
    if not _IDENTIFIER.match(name):
        raise PolicyError(f"{where}: column name must be a letter then letters, digits or _")
    if isinstance(value, str):  # shorthand: "name": "path" is a text column
        value = {"path": value}
    f = _Fields(value, where)
    path = f.string("path")
    _check_xpath(path, namespaces, f.path("path"))
    col_type = f.choice("type", COLUMN_TYPES, "text")
    vocabulary = f.boolean("vocabulary", False)
    f.done()
    return ColumnSpec(name, path, col_type, vocabulary)  # type: ignore[arg-type]


def _table(value: object, where: str, namespaces: Mapping[str, str]) -> TableSpec:
    f = _Fields(value, where)
    name = f.string("name")
    if not _IDENTIFIER.match(name) or name.lower().startswith("sqlite_"):
        raise PolicyError(
            f"{f.path('name')}: {name!r} is not a table name "
            "(a letter, then letters, digits or _; not sqlite_*)"
        )
    row_path = f.string("row-path")
    _check_xpath(row_path, namespaces, f.path("row-path"))
    raw_columns = f.get("columns", required=True)
    if not isinstance(raw_columns, dict) or not raw_columns:
        raise PolicyError(f"{f.path('columns')}: must be a non-empty object")
    columns = tuple(
        _column(col, spec, f"{f.path('columns')}.{col}", namespaces)
        for col, spec in raw_columns.items()
    )
    lowered = [c.name.lower() for c in columns]
    if len(set(lowered)) != len(lowered):
        raise PolicyError(f"{f.path('columns')}: column names differ only in case")
    history = f.choice("history", ("latest", "period"), "latest")
    f.done()
    return TableSpec(name, row_path, columns, history)  # type: ignore[arg-type]


def _source(value: object, where: str, inherited: Mapping[str, str]) -> SourceSpec:
    f = _Fields(value, where)
    source_id = f.string("id")
    if not _SOURCE_ID.match(source_id):
        raise PolicyError(f"{f.path('id')}: {source_id!r} is not a valid source id")
    datastore = f.choice("datastore", ("running", "operational"), "operational")
    namespaces = _namespaces(f, inherited)
    has_subtree = "subtree" in f.data
    has_xpath = "xpath" in f.data
    if has_subtree == has_xpath:
        raise PolicyError(f"{where}: exactly one of 'subtree' or 'xpath' is required")
    if has_subtree:
        filter_type = "subtree"
        text = f.string("subtree")
        try:
            etree.fromstring(f"<filter>{text}</filter>".encode())
        except etree.XMLSyntaxError as exc:
            raise PolicyError(f"{f.path('subtree')}: not well-formed XML: {exc}") from exc
    else:
        filter_type = "xpath"
        text = f.string("xpath")
        _check_xpath(text, namespaces, f.path("xpath"))
    if not text.strip():
        raise PolicyError(f"{f.path(filter_type)}: must not be empty")
    period = f.integer("period", minimum=1)  # seconds, at most 2^32 - 1 (136 years)
    on_change = f.boolean("on-change", False)
    timeout = f.get("timeout", 30)
    if (
        not isinstance(timeout, int | float)
        or isinstance(timeout, bool)
        or not 0 < timeout <= MAX_READ_TIMEOUT
    ):
        raise PolicyError(
            f"{f.path('timeout')}: must be a number of seconds, over 0, at most {MAX_READ_TIMEOUT}"
        )
    raw_tables = f.array("tables")
    if not raw_tables:
        raise PolicyError(f"{f.path('tables')}: at least one table is required")
    tables = tuple(
        _table(t, f"{f.path('tables')}[{i}]", namespaces) for i, t in enumerate(raw_tables)
    )
    f.done()
    return SourceSpec(
        source_id,
        datastore,  # type: ignore[arg-type]
        filter_type,  # type: ignore[arg-type]
        text,
        namespaces,
        float(period),
        on_change,
        tables,
        float(timeout),
    )


def _kpi(value: object, where: str, table_names: set[str]) -> KpiSpec:
    f = _Fields(value, where)
    name = f.string("name")
    if not _KPI_NAME.match(name):
        raise PolicyError(f"{f.path('name')}: {name!r} is not a valid KPI name")
    kind = f.get("kind", required=True)
    if kind not in KPI_KINDS:
        raise PolicyError(f"{f.path('kind')}: unknown kind {kind!r} (expected sql or lua)")
    category = f.choice("category", KPI_CATEGORIES, "feature")
    tables: tuple[str, ...] = ()
    if kind == "sql":
        code = f.string("query")
        if "script" in f.data:
            raise PolicyError(f"{f.path('script')}: an sql KPI has a 'query', not a 'script'")
        if "tables" in f.data:
            raise PolicyError(f"{f.path('tables')}: only lua KPIs list their tables")
    else:
        code = f.string("script")
        if "query" in f.data:
            raise PolicyError(f"{f.path('query')}: a lua KPI has a 'script', not a 'query'")
        raw_tables = f.array("tables")
        for i, table in enumerate(raw_tables):
            if not isinstance(table, str) or table not in table_names:
                raise PolicyError(
                    f"{f.path('tables')}[{i}]: {table!r} is not a table of this policy"
                )
        tables = tuple(raw_tables)
    if not code.strip():
        raise PolicyError(f"{f.path('query' if kind == 'sql' else 'script')}: must not be empty")
    f.done()
    return KpiSpec(name, kind, code, tables, category)  # type: ignore[arg-type]


def parse_policy(data: bytes | str) -> Policy:
    """Parse and validate policy JSON; raise PolicyError naming the bad field."""
    try:
        document = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PolicyError(f"not valid JSON: {exc}") from exc
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise PolicyError(f"not acceptable JSON: {exc}") from exc
    except RecursionError as exc:
        raise PolicyError("not acceptable JSON: nested too deeply") from exc
    f = _Fields(document, "")
    version = f.string("policy-version")
    if not version.strip():
        raise PolicyError("policy-version: must not be empty")
    file_version = f.integer("file-version")
    if file_version > 0xFFFFFFFF:
        raise PolicyError("file-version: must fit in 32 bits")
    interval = f.integer("reporting-interval", default=DEFAULT_REPORTING_INTERVAL, minimum=1)
    if interval > 0xFFFFFFFF:
        raise PolicyError("reporting-interval: must fit in 32 bits")
    namespaces = _namespaces(f, {})
    sources = tuple(
        _source(s, f"sources[{i}]", namespaces) for i, s in enumerate(f.array("sources"))
    )
    _unique((s.id for s in sources), "sources", "id")
    table_names = [t.name for s in sources for t in s.tables]
    _unique(table_names, "tables", "name", fold=True)
    kpis = tuple(_kpi(k, f"kpis[{i}]", set(table_names)) for i, k in enumerate(f.array("kpis")))
    _unique((k.name for k in kpis), "kpis", "name")
    device: dict[str, str] = {}
    raw_device = f.get("device", {})
    d = _Fields(raw_device, "device")
    for key in DEVICE_FIELDS:
        if key in d.data:
            q = _Fields(d.get(key), f"device.{key}")
            query = q.string("query")
            if not query.strip():
                raise PolicyError(f"device.{key}.query: must not be empty")
            q.done()
            device[key] = query
    d.done()
    f.done()
    return Policy(version, file_version, interval, sources, kpis, device)


def _unique(names: Iterable[str], what: str, key: str, *, fold: bool = False) -> None:
    seen: set[str] = set()
    for name in names:
        folded = name.lower() if fold else name
        if folded in seen:
            raise PolicyError(f"{what}: duplicate {key} {name!r}")
        seen.add(folded)


# --- loading ----------------------------------------------------------------------------


def resolve_policy_path(spec: str) -> Path:
    """``--policy NAME|FILE``: a shipped policy name, or the path of a policy file."""
    if spec and "/" not in spec and not spec.endswith(".json"):
        return PACKAGE_POLICY_DIR / f"{spec}.json"
    return Path(spec).expanduser()


def signature_path(policy_path: Path) -> Path:
    return policy_path.with_name(policy_path.name + ".sig")


def verify_policy_bytes(
    data: bytes, signature_b64: str | bytes, keys: Sequence[TrustedKey]
) -> Policy:
    """Verify the signature first, then validate; nothing unverified is ever parsed."""
    if len(data) > MAX_POLICY_BYTES:
        raise PolicyError(f"policy is larger than {MAX_POLICY_BYTES} bytes")
    verify_signature(data, decode_signature(signature_b64), keys)
    try:
        return parse_policy(data)
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        # parse_policy names every problem it knows; this is the net for the rest (a value
        # a library refuses), so a signed but unusable policy is refused like any other
        raise PolicyError(f"policy cannot be used: {type(exc).__name__}: {exc}") from exc


def load_policy_file(path: Path, keys: Sequence[TrustedKey], now: float) -> PolicyInfo:
    """Load a signed policy file; raise PolicyError on any problem."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PolicyError(f"cannot read policy {path}: {exc.strerror}") from exc
    sig_file = signature_path(path)
    try:
        signature = sig_file.read_text().strip()
    except OSError as exc:
        raise PolicyError(f"cannot read signature {sig_file}: {exc.strerror}") from exc
    policy = verify_policy_bytes(data, signature, keys)
    return PolicyInfo(
        policy=policy,
        source="file",
        file_path=str(path),
        signature=signature,
        signature_valid=True,
        loaded_at=now,
        text=data,
    )


def builtin_policy_info(now: float, reason: str | None, file_path: str | None) -> PolicyInfo:
    """The built-in policy, recording why the file was refused."""
    return PolicyInfo(
        policy=BUILTIN_POLICY,
        source="built-in",
        file_path=file_path,
        loaded_at=now,
        rejection_reason=reason,
    )
