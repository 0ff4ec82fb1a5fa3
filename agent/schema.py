"""The YANG schema layer: what the agent's modules define, in a form cheap to query.

pyang parses and validates the modules once (``Schema.load``); this module then copies what
the server needs per request (data nodes, keys, defaults, config, types, RPCs, module
metadata) into small immutable Python objects, so no request ever touches pyang.  Choices
and cases are flattened away: a data node's children are the nodes that can appear as XML
children, whatever choice they sit in (``SchemaNode.choice`` remembers it).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Literal

from lxml import etree
from pyang import context, error, repository, types, util

REPO_YANG_DIR = Path(__file__).resolve().parent.parent / "yang"

NodeKind = Literal["container", "list", "leaf", "leaf-list", "anydata", "anyxml"]
Conformance = Literal["implement", "import"]

_DATA_KEYWORDS = frozenset({"container", "list", "leaf", "leaf-list", "anydata", "anyxml"})
_FLATTENED_KEYWORDS = frozenset({"choice", "case"})
_INT_RE = re.compile(r"[+-]?[0-9]+")
_MAX_INT_DIGITS = 40
_DECIMAL_RE = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")

# Features the agent announces per module.  A module not listed here has none enabled, so
# nodes guarded by an ``if-feature`` of it are not part of the schema.  Callers of
# ``Schema.load`` override entries with ``features=``.
DEFAULT_FEATURES: Mapping[str, tuple[str, ...]] = {
    "ietf-netconf": (
        "writable-running",
        "candidate",
        "confirmed-commit",
        "rollback-on-error",
        "validate",
        "startup",
        "xpath",
    ),
    "ietf-interfaces": ("if-mib",),
    "ietf-system": ("ntp", "timezone-name"),
}

# The modules the agent implements by default (ietf-* from pyang's bundled copy).
DEFAULT_MODULES: tuple[str, ...] = (
    "product-analytics",
    "ietf-netconf",
    "ietf-netconf-monitoring",
    "ietf-netconf-with-defaults",
    "ietf-yang-library",
    "ietf-datastores",
    "ietf-inet-types",
    "ietf-yang-types",
    "ietf-interfaces",
    "ietf-ip",
    "ietf-system",
    "ietf-hardware",
    "iana-hardware",
    "iana-if-type",
    "ietf-routing",
    # the host source's routes and Linux facts (agent/sources/host.py, issue 5)
    "ietf-ipv4-unicast-routing",
    "ietf-ipv6-unicast-routing",
    "pa-linux-host",
)


class SchemaError(Exception):
    """The YANG modules could not be found, parsed or validated."""


def bundled_yang_dirs() -> list[Path]:
    """Folders of the IETF/IANA modules that ship with pyang (``<prefix>/share/yang``)."""
    share = Path(sys.prefix) / "share" / "yang" / "modules"
    return [d for d in (share / "ietf", share / "iana") if d.is_dir()]


Number = int | Decimal
Bounds = tuple[tuple[Number, Number], ...]  # inclusive intervals; a value must hit one


@dataclass(frozen=True, eq=False)
class TypeInfo:
    """A leaf's type resolved down to its built-in base, with every restriction on the way.

    ``ranges`` / ``lengths`` / ``patterns`` hold one entry per derivation step that
    restricts; a value must satisfy all of them.  ``members`` are a union's member types,
    ``target`` the type of the leaf a leafref points to, ``identities`` the (namespace,
    name) pairs an identityref accepts.
    """

    name: str
    base: str
    ranges: tuple[Bounds, ...] = ()
    lengths: tuple[Bounds, ...] = ()
    patterns: tuple[Callable[[str], bool | None], ...] = ()
    enums: tuple[str, ...] = ()
    bits: tuple[str, ...] = ()
    fraction_digits: int | None = None
    members: tuple[TypeInfo, ...] = ()
    identities: frozenset[tuple[str, str]] = frozenset()
    leafref_path: str | None = None
    target: TypeInfo | None = None
    require_instance: bool = True
    # identity resolution for identityref values: prefix or module name -> namespace
    prefixes: Mapping[str, str] = field(default_factory=dict, repr=False)

    def check(self, text: str, nsmap: Mapping[str | None, str] | None = None) -> str | None:
        """None if ``text`` is a valid value of this type, else why it is not."""
        # Written by hand: pyang's own checks parse YANG default syntax (hex integers) and
        # need the defining module to resolve prefixes, while values here come from XML.
        base = self.base
        if base == "union":
            reasons = [m.check(text, nsmap) for m in self.members]
            if any(r is None for r in reasons):
                return None
            return f"'{text}' matches no member type of union {self.name}"
        if base == "leafref":
            if self.target is None:
                return None
            return self.target.check(text, nsmap)
        if base == "string":
            return self._check_string(text)
        value = text.strip()
        if base in _INT_BOUNDS:
            number = _integer(value)
            if number is None:
                return f"'{text}' is not an integer ({self.name})"
            lo, hi = _INT_BOUNDS[base]
            if not lo <= number <= hi:
                return f"{number} is out of the range of {base}"
            return self._check_bounds(number, self.ranges, "range")
        if base == "decimal64":
            return self._check_decimal(value)
        if base == "boolean":
            return None if value in ("true", "false") else f"'{text}' is not a boolean"
        if base == "enumeration":
            if value in self.enums:
                return None
            return f"'{text}' is not one of {', '.join(self.enums)}"
        if base == "bits":
            names = value.split()
            unknown = [n for n in names if n not in self.bits]
            if unknown:
                return f"unknown bit(s) {', '.join(unknown)} (allowed: {', '.join(self.bits)})"
            if len(set(names)) != len(names):
                return f"'{text}' names a bit twice"
            return None
        if base == "binary":
            try:
                decoded = base64.b64decode("".join(value.split()), validate=True)
            except (binascii.Error, ValueError):
                return f"'{text}' is not base64"
            return self._check_bounds(len(decoded), self.lengths, "length")
        if base == "empty":
            return None if value == "" else "a leaf of type empty takes no value"
        if base == "identityref":
            return self._check_identity(value, nsmap)
        if base == "instance-identifier":
            return None if value.startswith("/") else f"'{text}' is not an instance-identifier"
        return None

    def canonical(self, text: str) -> str:
        """The canonical form of a valid value (for comparing with defaults)."""
        value = text.strip()
        if self.base in _INT_BOUNDS and (integer := _integer(value)) is not None:
            return str(integer)
        if self.base == "decimal64" and _DECIMAL_RE.fullmatch(value):
            number = Decimal(value)
            return _canonical_decimal(number)
        if self.base in ("leafref",) and self.target is not None:
            return self.target.canonical(text)
        if self.base == "string":
            return text
        return value

    def _check_string(self, text: str) -> str | None:
        reason = self._check_bounds(len(text), self.lengths, "length")
        if reason is not None:
            return reason
        for pattern in self.patterns:
            if pattern(text) is False:
                return f"'{text}' does not match the pattern '{pattern}' of {self.name}"
        return None

    def _check_decimal(self, value: str) -> str | None:
        if not _DECIMAL_RE.fullmatch(value):
            return f"'{value}' is not a decimal number ({self.name})"
        digits = self.fraction_digits or 1
        _, _, fraction = value.partition(".")
        if len(fraction) > digits:
            return f"'{value}' has more than {digits} fraction digits"
        number = Decimal(value)
        limit = Decimal(9223372036854775807).scaleb(-digits)
        if not -limit - Decimal(1).scaleb(-digits) <= number <= limit:
            return f"{value} is out of the range of decimal64 with {digits} fraction digits"
        return self._check_bounds(number, self.ranges, "range")

    def _check_identity(self, value: str, nsmap: Mapping[str | None, str] | None) -> str | None:
        prefix, _, name = value.rpartition(":")
        namespace: str | None
        if prefix:
            namespace = (nsmap or {}).get(prefix) or self.prefixes.get(prefix)
            if namespace is None:
                return f"unknown prefix '{prefix}' in identity '{value}'"
        else:
            namespace = (nsmap or {}).get(None)
        if namespace is None:
            matches = [ident for ident in self.identities if ident[1] == name]
            if len(matches) == 1:
                return None
        elif (namespace, name) in self.identities:
            return None
        return f"'{value}' is not an identity derived from {self.name}"

    @staticmethod
    def _check_bounds(value: Number, bounds_list: tuple[Bounds, ...], what: str) -> str | None:
        for bounds in bounds_list:
            if not any(lo <= value <= hi for lo, hi in bounds):
                allowed = " | ".join(f"{lo}..{hi}" if lo != hi else f"{lo}" for lo, hi in bounds)
                return f"{value} is outside the {what} {allowed}"
        return None


_INT_BOUNDS: Mapping[str, tuple[int, int]] = {
    "int8": (-(2**7), 2**7 - 1),
    "int16": (-(2**15), 2**15 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint8": (0, 2**8 - 1),
    "uint16": (0, 2**16 - 1),
    "uint32": (0, 2**32 - 1),
    "uint64": (0, 2**64 - 1),
}


def _canonical_decimal(number: Decimal) -> str:
    """RFC 7950 §9.3.2: no leading zeros, at least one fraction digit, no trailing zeros."""
    text = format(number.normalize(), "f")
    if "." not in text:
        text += ".0"
    return text


@dataclass(eq=False)
class SchemaNode:
    """One data node of the schema (container, list, leaf, leaf-list, anydata, anyxml)."""

    name: str
    namespace: str
    module: str
    prefix: str
    kind: NodeKind
    config: bool
    presence: bool = False
    keys: tuple[str, ...] = ()
    default: str | None = None
    defaults: tuple[str, ...] = ()
    default_nsmap: Mapping[str, str] = field(default_factory=dict)
    mandatory: bool = False
    min_elements: int = 0
    max_elements: int | None = None
    ordered_by_user: bool = False
    type: TypeInfo | None = None
    units: str | None = None
    choice: tuple[str, str] | None = None  # (choice name, case name) of the nearest choice
    in_default_case: bool = False  # the case above is the choice's default case
    when: str | None = None
    musts: tuple[str, ...] = ()
    parent: SchemaNode | None = field(default=None, repr=False)
    _children: dict[tuple[str, str], SchemaNode] = field(default_factory=dict, repr=False)

    def child(self, namespace: str, name: str) -> SchemaNode | None:
        """The child data node ``{namespace}name``, or None."""
        return self._children.get((namespace, name))

    def children(self) -> list[SchemaNode]:
        """Child data nodes in schema order (choices flattened)."""
        return list(self._children.values())

    def path(self) -> str:
        """Schema path with module prefixes, e.g. ``/pa:product-analytics/pa:storage``."""
        parts: list[str] = []
        node: SchemaNode | None = self
        while node is not None:
            parts.append(f"{node.prefix}:{node.name}")
            node = node.parent
        return "/" + "/".join(reversed(parts))

    @property
    def qname(self) -> str:
        """The lxml tag of this node's elements: ``{namespace}name``."""
        return f"{{{self.namespace}}}{self.name}"

    def check_value(self, text: str, nsmap: Mapping[str | None, str] | None = None) -> str | None:
        """None if ``text`` is a valid value of this leaf or leaf-list, else why not.

        ``nsmap`` resolves prefixes in identityref values (the element's ``nsmap``); module
        prefixes and names are accepted as a fallback.
        """
        if self.type is None:
            return None
        return self.type.check(text, nsmap)

    def walk(self) -> Iterator[SchemaNode]:
        """This node and all its descendants, depth first."""
        yield self
        for child in self._children.values():
            yield from child.walk()


@dataclass(eq=False)
class RpcSchema:
    """An RPC (or a YANG 1.1 action's signature) with its input and output containers."""

    name: str
    namespace: str
    module: str
    input: SchemaNode | None
    output: SchemaNode | None


@dataclass(eq=False)
class NotificationSchema:
    """A notification; ``body`` is a container-like node holding its leaves."""

    name: str
    namespace: str
    module: str
    body: SchemaNode


@dataclass(eq=False)
class ModuleInfo:
    """What the YANG library and get-schema say about one module or submodule."""

    name: str
    revision: str | None
    namespace: str
    prefix: str
    yang_version: Literal["1", "1.1"]
    features: list[str]
    deviations: list[tuple[str, str | None]]
    submodules: list[tuple[str, str | None]]
    conformance: Conformance
    path: Path
    text: str
    is_submodule: bool = False
    belongs_to: str | None = None  # for submodules: the module they belong to


class _FeatureMap(dict[str, list[str]]):
    """pyang's ``ctx.features``: every module counts as listed, so unlisted ones get none."""

    def __init__(self, enabled: Mapping[str, Sequence[str]]) -> None:
        super().__init__({k: list(v) for k, v in enabled.items()})

    def __contains__(self, key: object) -> bool:
        return True

    def __missing__(self, key: str) -> list[str]:
        return []


class Schema:
    """The agent's YANG modules, loaded once with pyang and queried without it."""

    def __init__(self) -> None:
        self._tops: dict[tuple[str, str], SchemaNode] = {}
        self._rpcs: dict[tuple[str, str], RpcSchema] = {}
        self._notifications: dict[tuple[str, str], NotificationSchema] = {}
        self._modules: list[ModuleInfo] = []
        self._sources: list[ModuleInfo] = []
        self._by_namespace: dict[str, ModuleInfo] = {}
        self._prefixes: dict[str, str] = {}  # module prefix or name -> namespace
        self._pyang_modules: dict[tuple[str, str | None], Any] = {}
        self._pyang_ctx: Any = None
        self._yin_cache: dict[tuple[str, str | None], str] = {}
        self._identity_cache: dict[tuple[int, ...], frozenset[tuple[str, str]]] = {}
        self._type_cache: dict[int, TypeInfo] = {}

    # -- loading --------------------------------------------------------------------------

    @classmethod
    def load(
        cls,
        modules: Sequence[str] = DEFAULT_MODULES,
        search_path: Sequence[Path] = (),
        *,
        features: Mapping[str, Sequence[str]] | None = None,
    ) -> Schema:
        """Parse and validate ``modules`` (the ones to implement) and what they import.

        Modules are searched in ``search_path``, then the repository's ``yang/``, then
        pyang's bundled IETF/IANA modules.  ``features`` maps a module name to the features
        enabled in it (default: ``DEFAULT_FEATURES``; unlisted modules have none).
        Raises SchemaError on any YANG error.

        Loads are cached per process: the same arguments with unchanged ``.yang`` files in
        the search path (same names, sizes and modification times) return the same,
        read-only Schema, so starting many servers (tests, the device simulator) is cheap.
        """
        dirs = [Path(p) for p in search_path]
        if REPO_YANG_DIR.is_dir():
            dirs.append(REPO_YANG_DIR)
        dirs.extend(bundled_yang_dirs())
        key = (
            tuple(modules),
            tuple(sorted((k, tuple(v)) for k, v in (features or {}).items())),
            tuple(str(d) for d in dirs),
            _files_signature(dirs),
        )
        cached = _LOAD_CACHE.get(key)
        if cached is not None:
            return cached
        schema = cls._load(modules, dirs, features)
        _LOAD_CACHE[key] = schema
        return schema

    @classmethod
    def _load(
        cls,
        modules: Sequence[str],
        dirs: list[Path],
        features: Mapping[str, Sequence[str]] | None,
    ) -> Schema:
        repo = repository.FileRepository(
            ":".join(str(d) for d in dirs), use_env=False, no_path_recurse=True
        )
        ctx = context.Context(repo)
        enabled = dict(DEFAULT_FEATURES)
        enabled.update({k: tuple(v) for k, v in (features or {}).items()})
        ctx.features = _FeatureMap(enabled)
        implemented: list[Any] = []
        for name in modules:
            module = ctx.search_module(0, name)
            if module is None:
                raise SchemaError(f"YANG module {name} not found in {[str(d) for d in dirs]}")
            implemented.append(module)
        ctx.validate()
        problems = [
            f"{pos.label()}: {error.err_to_str(tag, args)}"
            for pos, tag, args in ctx.errors
            if error.is_error(error.err_level(tag))
        ]
        if problems:
            raise SchemaError("YANG errors:\n" + "\n".join(problems))
        schema = cls()
        schema._build(ctx, implemented, enabled)
        return schema

    def _build(
        self, ctx: Any, implemented: list[Any], enabled: Mapping[str, Sequence[str]]
    ) -> None:
        self._pyang_ctx = ctx
        implemented_names = {m.arg for m in implemented}
        deviations: dict[str, list[tuple[str, str | None]]] = {}
        all_modules = [m for m in ctx.modules.values() if m.keyword == "module"]
        for module in all_modules:
            for dev in module.search("deviation"):
                target = getattr(dev, "i_target_node", None)
                if target is not None:
                    entry = (module.arg, util.get_latest_revision(module))
                    deviations.setdefault(target.i_module.i_modulename, []).append(entry)
        for module in sorted(all_modules, key=lambda m: m.arg):
            namespace = module.search_one("namespace").arg
            prefix = module.search_one("prefix").arg
            self._prefixes.setdefault(prefix, namespace)
            self._prefixes[module.arg] = namespace
            defined = set(module.i_features)
            info = ModuleInfo(
                name=module.arg,
                revision=_revision(module),
                namespace=namespace,
                prefix=prefix,
                yang_version="1.1" if module.i_version == "1.1" else "1",
                features=[f for f in enabled.get(module.arg, ()) if f in defined],
                deviations=sorted(set(deviations.get(module.arg, []))),
                submodules=[
                    (inc.arg, _include_revision(ctx, inc)) for inc in module.search("include")
                ],
                conformance="implement" if module.arg in implemented_names else "import",
                path=Path(module.pos.ref),
                text=Path(module.pos.ref).read_text(encoding="utf-8"),
            )
            self._modules.append(info)
            self._sources.append(info)
            self._pyang_modules[(info.name, info.revision)] = module
            self._by_namespace.setdefault(namespace, info)
        for sub in (m for m in ctx.modules.values() if m.keyword == "submodule"):
            parent = sub.search_one("belongs-to").arg
            parent_info = self.module(parent)
            info = ModuleInfo(
                name=sub.arg,
                revision=_revision(sub),
                namespace=parent_info.namespace if parent_info else "",
                prefix=sub.search_one("belongs-to").search_one("prefix").arg,
                yang_version="1.1" if sub.i_version == "1.1" else "1",
                features=[],
                deviations=[],
                submodules=[],
                conformance=parent_info.conformance if parent_info else "import",
                path=Path(sub.pos.ref),
                text=Path(sub.pos.ref).read_text(encoding="utf-8"),
                is_submodule=True,
                belongs_to=parent,
            )
            self._sources.append(info)
            self._pyang_modules[(info.name, info.revision)] = sub
        implemented_ns = {self._ns_of(m.arg) for m in implemented}
        for module in implemented:
            for stmt in module.i_children:
                if getattr(stmt, "i_not_implemented", False):
                    continue
                if stmt.keyword in _DATA_KEYWORDS or stmt.keyword in _FLATTENED_KEYWORDS:
                    for node in self._convert(stmt, None, None, implemented_names):
                        self._tops[(node.namespace, node.name)] = node
                elif stmt.keyword == "rpc":
                    rpc = self._convert_rpc(stmt, implemented_names)
                    self._rpcs[(rpc.namespace, rpc.name)] = rpc
                elif stmt.keyword == "notification":
                    body = self._container_like(stmt, "notification", implemented_names)
                    ns = self._ns_of(stmt.i_module.i_modulename)
                    self._notifications[(ns, stmt.arg)] = NotificationSchema(
                        stmt.arg, ns, stmt.i_module.i_modulename, body
                    )
        # top-level nodes augmented into import-only modules are not reachable; drop any
        # top node whose namespace is not implemented (cannot happen with i_children above)
        self._tops = {k: v for k, v in self._tops.items() if k[0] in implemented_ns}

    def _ns_of(self, module_name: str) -> str:
        return self._prefixes[module_name]

    def _convert(
        self,
        stmt: Any,
        parent: SchemaNode | None,
        choice: tuple[str, str] | None,
        implemented: set[str],
        default_case: bool = False,
    ) -> list[SchemaNode]:
        """SchemaNodes for one pyang statement (several when it is a choice or case)."""
        if getattr(stmt, "i_not_implemented", False):
            return []  # if-feature of a disabled feature
        if stmt.i_module.i_modulename not in implemented:
            # an augment from an import-only module is not implemented (RFC 7950 §5.6.5)
            return []
        if stmt.keyword == "choice":
            nodes: list[SchemaNode] = []
            default = stmt.search_one("default")
            for case in stmt.i_children:
                if getattr(case, "i_not_implemented", False):
                    continue
                where = (stmt.arg, case.arg)
                is_default = default is not None and default.arg == case.arg
                # a shorthand case (a data node directly in the choice) is its own case
                members = case.i_children if case.keyword == "case" else [case]
                for sub in members:
                    nodes.extend(self._convert(sub, parent, where, implemented, is_default))
            return nodes
        if stmt.keyword == "case":
            nodes = []
            for sub in stmt.i_children:
                nodes.extend(self._convert(sub, parent, choice, implemented, default_case))
            return nodes
        if stmt.keyword not in _DATA_KEYWORDS:
            return []  # actions and notifications inside data nodes
        module_name = stmt.i_module.i_modulename
        keyword: NodeKind = stmt.keyword
        config = getattr(stmt, "i_config", True) is not False
        if parent is not None and not parent.config:
            config = False
        node = SchemaNode(
            name=stmt.arg,
            namespace=self._ns_of(module_name),
            module=module_name,
            prefix=self._module_prefix(module_name),
            kind=keyword,
            config=config,
            parent=parent,
            choice=choice,
            in_default_case=default_case,
        )
        self._fill(node, stmt)
        for sub in getattr(stmt, "i_children", []):
            for child in self._convert(sub, node, None, implemented):
                node._children[(child.namespace, child.name)] = child
        return [node]

    def _container_like(self, stmt: Any, name: str, implemented: set[str]) -> SchemaNode:
        module_name = stmt.i_module.i_modulename
        node = SchemaNode(
            name=name,
            namespace=self._ns_of(module_name),
            module=module_name,
            prefix=self._module_prefix(module_name),
            kind="container",
            config=False,
        )
        for sub in getattr(stmt, "i_children", []):
            for child in self._convert(sub, node, None, implemented | {module_name}):
                node._children[(child.namespace, child.name)] = child
        return node

    def _convert_rpc(self, stmt: Any, implemented: set[str]) -> RpcSchema:
        module_name = stmt.i_module.i_modulename
        parts: dict[str, SchemaNode | None] = {"input": None, "output": None}
        for sub in stmt.i_children:
            if sub.keyword in parts and not getattr(sub, "i_not_implemented", False):
                parts[sub.keyword] = self._container_like(sub, sub.keyword, implemented)
        return RpcSchema(
            stmt.arg, self._ns_of(module_name), module_name, parts["input"], parts["output"]
        )

    def _module_prefix(self, module_name: str) -> str:
        info = self.module(module_name)
        return info.prefix if info else module_name

    def _fill(self, node: SchemaNode, stmt: Any) -> None:
        """Copy keyword-specific properties of ``stmt`` into ``node``."""
        presence = stmt.search_one("presence")
        node.presence = presence is not None
        if node.kind == "list":
            key = stmt.search_one("key")
            node.keys = tuple(util.split_identifier(k)[1] for k in key.arg.split()) if key else ()
        if node.kind in ("list", "leaf-list"):
            minimum = stmt.search_one("min-elements")
            maximum = stmt.search_one("max-elements")
            node.min_elements = int(minimum.arg) if minimum is not None else 0
            if maximum is not None and maximum.arg != "unbounded":
                node.max_elements = int(maximum.arg)
            ordered = stmt.search_one("ordered-by")
            node.ordered_by_user = ordered is not None and ordered.arg == "user"
        mandatory = stmt.search_one("mandatory")
        node.mandatory = mandatory is not None and mandatory.arg == "true"
        when = stmt.search_one("when")
        node.when = when.arg if when is not None else None
        node.musts = tuple(m.arg for m in stmt.search("must"))
        if node.kind in ("leaf", "leaf-list"):
            type_stmt = stmt.search_one("type")
            node.type = self._type_info(type_stmt)
            units = stmt.search_one("units") or _typedef_property(type_stmt, "units")
            node.units = units.arg if units is not None else None
            self._fill_default(node, stmt, type_stmt)

    def _fill_default(self, node: SchemaNode, stmt: Any, type_stmt: Any) -> None:
        parent = node.parent
        if parent is not None and parent.kind == "list" and node.name in parent.keys:
            return  # a key never has a default (RFC 7950 §7.8.2), even from its typedef
        if node.kind == "leaf":
            default = stmt.search_one("default")
            if default is None and not node.mandatory:
                default = _typedef_property(type_stmt, "default")
            texts = [default.arg] if default is not None else []
            origin = default if default is not None else None
        else:
            own = stmt.search("default")
            if own:
                texts = [d.arg for d in own]
                origin = own[0]
            elif node.min_elements == 0:
                inherited = _typedef_property(type_stmt, "default")
                texts = [inherited.arg] if inherited is not None else []
                origin = inherited
            else:
                texts, origin = [], None
        if not texts or node.type is None:
            return
        canonical = []
        for text in texts:
            value, nsmap = self._default_value(node.type, text, origin)
            canonical.append(value)
            node.default_nsmap = {**node.default_nsmap, **nsmap}
        if node.kind == "leaf":
            node.default = canonical[0]
        else:
            node.defaults = tuple(canonical)

    def _default_value(self, info: TypeInfo, text: str, origin: Any) -> tuple[str, dict[str, str]]:
        """A default in canonical form; identityref prefixes become the identity module's."""
        if info.base == "identityref" or (
            info.base == "union" and any(m.base == "identityref" for m in info.members)
        ):
            prefix, _, name = text.rpartition(":")
            if prefix:
                target = util.prefix_to_module(origin.i_module, prefix, None, [])
            else:
                target = origin.i_module
            if target is not None:
                target_name = getattr(target, "i_modulename", target.arg)
                own_prefix = self._module_prefix(target_name)
                return f"{own_prefix}:{name}", {own_prefix: self._ns_of(target_name)}
        return info.canonical(text), {}

    def _type_info(self, type_stmt: Any) -> TypeInfo:
        cached = self._type_cache.get(id(type_stmt))
        if cached is not None:
            return cached
        spec = type_stmt.i_type_spec
        base_stmt = type_stmt
        while getattr(base_stmt, "i_typedef", None) is not None:
            base_stmt = base_stmt.i_typedef.search_one("type")
        base = base_stmt.arg
        ranges: list[Bounds] = []
        lengths: list[Bounds] = []
        patterns: list[Callable[[str], bool | None]] = []
        enums: tuple[str, ...] = ()
        bits: tuple[str, ...] = ()
        fraction_digits: int | None = None
        members: tuple[TypeInfo, ...] = ()
        identities: frozenset[tuple[str, str]] = frozenset()
        leafref_path: str | None = None
        target: TypeInfo | None = None
        require_instance = True
        layer = spec
        while layer is not None:
            if isinstance(layer, types.RangeTypeSpec):
                ranges.append(_bounds(layer.ranges, layer.min, layer.max))
            elif isinstance(layer, types.LengthTypeSpec):
                lengths.append(_bounds(layer.lengths, layer.min, layer.max))
            elif isinstance(layer, types.PatternTypeSpec):
                patterns.extend(layer.res)
            elif isinstance(layer, types.EnumTypeSpec) and not enums:
                enums = tuple(name for name, _ in layer.enums)
            elif isinstance(layer, types.BitTypeSpec) and not bits:
                bits = tuple(name for name, _ in layer.bits)
            elif isinstance(layer, types.Decimal64TypeSpec):
                fraction_digits = layer.fraction_digits
            elif isinstance(layer, types.UnionTypeSpec):
                members = tuple(self._type_info(t) for t in layer.types)
            elif isinstance(layer, types.IdentityrefTypeSpec):
                identities = self._derived_identities(layer.idbases)
            elif isinstance(layer, types.PathTypeSpec):
                leafref_path = layer.path_.arg
                require_instance = layer.require_instance
                target_node = getattr(layer, "i_target_node", None)
                if target_node is not None:
                    target = self._type_info(target_node.search_one("type"))
            elif isinstance(layer, types.InstanceIdentifierTypeSpec):
                require_instance = layer.require_instance
            layer = getattr(layer, "base", None)
        # ranges and lengths were collected most-derived first; order does not matter
        info = TypeInfo(
            name=type_stmt.arg,
            base=base,
            ranges=tuple(ranges),
            lengths=tuple(lengths),
            patterns=tuple(patterns),
            enums=enums,
            bits=bits,
            fraction_digits=fraction_digits,
            members=members,
            identities=identities,
            leafref_path=leafref_path,
            target=target,
            require_instance=require_instance,
            prefixes=self._prefixes,
        )
        self._type_cache[id(type_stmt)] = info
        return info

    def _derived_identities(self, idbases: list[Any]) -> frozenset[tuple[str, str]]:
        bases = [b.i_identity for b in idbases if getattr(b, "i_identity", None) is not None]
        key = tuple(id(b) for b in bases)
        cached = self._identity_cache.get(key)
        if cached is not None:
            return cached
        found: set[tuple[str, str]] = set()
        for module in self._pyang_ctx.modules.values():
            if module.keyword != "module":
                continue
            for name, ident in module.i_identities.items():
                if getattr(ident, "i_not_implemented", False):
                    continue
                if all(types.is_derived_from(ident, b) for b in bases):
                    found.add((self._ns_of(ident.i_module.i_modulename), name))
        result = frozenset(found)
        self._identity_cache[key] = result
        return result

    # -- queries --------------------------------------------------------------------------

    def top(self, namespace: str, name: str) -> SchemaNode | None:
        """The top-level data node ``{namespace}name`` of an implemented module, or None."""
        return self._tops.get((namespace, name))

    def tops(self) -> list[SchemaNode]:
        """All top-level data nodes of implemented modules."""
        return list(self._tops.values())

    def rpc(self, namespace: str, name: str) -> RpcSchema | None:
        """The RPC ``{namespace}name`` of an implemented module, or None."""
        return self._rpcs.get((namespace, name))

    def rpcs(self) -> list[RpcSchema]:
        """All RPCs of implemented modules."""
        return list(self._rpcs.values())

    def notification(self, namespace: str, name: str) -> NotificationSchema | None:
        """The notification ``{namespace}name`` of an implemented module, or None."""
        return self._notifications.get((namespace, name))

    def notifications(self) -> list[NotificationSchema]:
        """All notifications of implemented modules."""
        return list(self._notifications.values())

    def modules(self) -> list[ModuleInfo]:
        """Every module (implemented and import-only), sorted by name; no submodules."""
        return list(self._modules)

    def sources(self) -> list[ModuleInfo]:
        """Every module and submodule whose source get-schema can return."""
        return list(self._sources)

    def module(self, name: str, revision: str | None = None) -> ModuleInfo | None:
        """The module ``name`` (of ``revision`` if given), or None."""
        for info in self._modules:
            if info.name == name and (revision is None or info.revision == revision):
                return info
        return None

    def module_by_namespace(self, namespace: str) -> ModuleInfo | None:
        """The module whose namespace is ``namespace``, or None."""
        return self._by_namespace.get(namespace)

    def namespace_of(self, prefix_or_module: str) -> str | None:
        """The namespace of a module given by its name or its own prefix, or None."""
        return self._prefixes.get(prefix_or_module)

    def find(self, element: etree._Element) -> SchemaNode | None:
        """The schema node of a data element, found through its ancestors.

        Ancestors that are not data nodes (``<data>``, ``<config>``, an RPC reply...) are
        skipped: the outermost ancestor that is a top-level node starts the walk.
        """
        chain: list[etree._Element] = []
        current: etree._Element | None = element
        while current is not None:
            if isinstance(current.tag, str):
                chain.append(current)
            current = current.getparent()
        chain.reverse()  # root first
        for start, candidate in enumerate(chain):
            namespace, name = split_tag(candidate.tag)
            node = self.top(namespace, name)
            if node is None:
                continue
            for descendant in chain[start + 1 :]:
                namespace, name = split_tag(descendant.tag)
                node = node.child(namespace, name)
                if node is None:
                    break
            if node is not None:
                return node
        return None

    def yin(self, name: str, revision: str | None = None) -> str | None:
        """The YIN (RFC 7950 §13) form of a module or submodule, made by pyang, or None."""
        info = self.source(name, revision)
        if info is None:
            return None
        key = (info.name, info.revision)
        cached = self._yin_cache.get(key)
        if cached is None:
            from pyang.translators import yin

            out = io.StringIO()
            if not hasattr(self._pyang_ctx, "opts"):
                # the yin plugin reads its command-line options from the context
                self._pyang_ctx.opts = SimpleNamespace(
                    yin_canonical=False, yin_pretty_strings=False
                )
            yin.emit_yin(self._pyang_ctx, self._pyang_modules[key], out)
            cached = out.getvalue()
            self._yin_cache[key] = cached
        return cached

    def source(self, name: str, revision: str | None = None) -> ModuleInfo | None:
        """The module or submodule ``name`` (of ``revision`` if given), or None."""
        for info in self._sources:
            if info.name == name and (revision is None or info.revision == revision):
                return info
        return None

    def fingerprint(self) -> str:
        """A hash over every module's name, revision, features and source text."""
        digest = hashlib.sha256()
        for info in self._sources:
            digest.update(f"{info.name}@{info.revision}:{','.join(info.features)}".encode())
            digest.update(f":{info.conformance}:{info.deviations}\n".encode())
            digest.update(info.text.encode())
        return digest.hexdigest()


_LOAD_CACHE: dict[tuple[object, ...], Schema] = {}


def _files_signature(dirs: Sequence[Path]) -> tuple[tuple[str, int, int], ...]:
    """Name, size and modification time of every YANG file pyang may read from ``dirs``."""
    signature = []
    for folder in dirs:
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path.suffix in (".yang", ".yin"):
                stat = path.stat()
                signature.append((str(path), stat.st_size, stat.st_mtime_ns))
    return tuple(signature)


def split_tag(tag: str) -> tuple[str, str]:
    """``{ns}name`` -> (ns, name); a tag without namespace gives ("", name)."""
    if tag.startswith("{"):
        namespace, _, name = tag[1:].partition("}")
        return namespace, name
    return "", tag


def _revision(module: Any) -> str | None:
    revision = util.get_latest_revision(module)
    return None if revision in (None, "unknown") else str(revision)


def _include_revision(ctx: Any, include: Any) -> str | None:
    date = include.search_one("revision-date")
    if date is not None:
        return str(date.arg)
    sub = ctx.get_module(include.arg)
    return _revision(sub) if sub is not None else None


def _typedef_property(type_stmt: Any, keyword: str) -> Any:
    """The nearest ``keyword`` statement (default, units) along a type's typedef chain."""
    current = type_stmt
    while current is not None and getattr(current, "i_typedef", None) is not None:
        found = current.i_typedef.search_one(keyword)
        if found is not None:
            return found
        current = current.i_typedef.search_one("type")
    return None


def _integer(value: str) -> int | None:
    """The integer ``value`` spells (optional sign, ASCII digits), else None.  Any number of
    digits: ``int()`` refuses more than 4300, and no YANG integer needs more than 20, so a
    longer one is returned as a number out of every range."""
    if not _INT_RE.fullmatch(value):
        return None
    sign = -1 if value.startswith("-") else 1
    digits = value.lstrip("+-").lstrip("0") or "0"
    magnitude: int = 10**_MAX_INT_DIGITS if len(digits) > _MAX_INT_DIGITS else int(digits)
    return sign * magnitude


def _number(value: Any) -> Number:
    if isinstance(value, types.Decimal64Value):
        return Decimal(str(value.s))
    try:
        return int(value)
    except (TypeError, ValueError):
        try:
            return Decimal(str(value))
        except InvalidOperation as exc:  # pragma: no cover - pyang validated the range
            raise SchemaError(f"bad range bound {value!r}") from exc


def _bounds(parts: list[tuple[Any, Any]], minimum: Any, maximum: Any) -> Bounds:
    """pyang's range/length parts ('min', 'max', single values) as inclusive intervals."""
    result: list[tuple[Number, Number]] = []
    for lo, hi in parts:
        low = minimum if lo == "min" else maximum if lo == "max" else lo
        high = low if hi is None else maximum if hi == "max" else minimum if hi == "min" else hi
        result.append((_number(low), _number(high)))
    return tuple(result)
