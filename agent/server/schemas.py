"""RFC 6022 schema retrieval: the ``get-schema`` RPC and the ``/netconf-state/schemas`` list.

Every module and submodule the schema loaded (implemented or import-only) can be fetched,
as YANG (its source file, byte for byte) or as YIN (made by pyang's yin plugin, once per
module, on first request).
"""

from __future__ import annotations

from lxml import etree

from agent.api import Registry, RpcContext, RpcError, RpcHandler
from agent.schema import ModuleInfo, Schema

NCM_NS = "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"
_M = f"{{{NCM_NS}}}"
FORMATS = ("yang", "yin")


def schema_entries(schema: Schema) -> list[etree._Element]:
    """The ``<schema>`` entries of ``/netconf-state/schemas``: one per module or submodule
    and format, each retrievable with get-schema (location ``NETCONF``)."""
    entries: list[etree._Element] = []
    for info in schema.sources():
        for fmt in FORMATS:
            entry = etree.Element(_M + "schema", nsmap={None: NCM_NS})  # type: ignore[dict-item]
            etree.SubElement(entry, _M + "identifier").text = info.name
            etree.SubElement(entry, _M + "version").text = info.revision or ""
            # unprefixed: the identity is in the element's own (default) namespace, which
            # survives any copy, while an extra prefix for it would be dropped by lxml
            etree.SubElement(entry, _M + "format").text = fmt
            etree.SubElement(entry, _M + "namespace").text = info.namespace
            etree.SubElement(entry, _M + "location").text = "NETCONF"
            entries.append(entry)
    return entries


def _param(op: etree._Element, name: str) -> etree._Element | None:
    found = op.findall(_M + name)
    if len(found) > 1:
        raise RpcError(
            "bad-element",
            f"<{name}> is given more than once",
            type="protocol",
            info={"bad-element": name},
        )
    return found[0] if found else None


def _format(op: etree._Element) -> str:
    element = _param(op, "format")
    if element is None:
        return "yang"
    text = (element.text or "").strip()
    prefix, sep, name = text.rpartition(":")
    namespace = element.nsmap.get(prefix) if sep else NCM_NS
    if namespace != NCM_NS or name not in FORMATS:
        raise RpcError(
            "invalid-value",
            f"schema format '{text}' is not supported (supported: {', '.join(FORMATS)})",
            type="protocol",
        )
    return name


def find_schema(schema: Schema, identifier: str, version: str | None) -> ModuleInfo:
    """The module or submodule get-schema asks for, or the RFC 6022 §3.1 error."""
    candidates = [info for info in schema.sources() if info.name == identifier]
    if version:
        candidates = [info for info in candidates if (info.revision or "") == version]
    if not candidates:
        wanted = f"{identifier}@{version}" if version else identifier
        raise RpcError("invalid-value", f"no schema {wanted} on this server", type="protocol")
    if len(candidates) > 1:
        revisions = ", ".join(info.revision or "(none)" for info in candidates)
        raise RpcError(
            "operation-failed",
            f"more than one revision of {identifier} ({revisions}); give <version>",
            type="protocol",
            app_tag="data-not-unique",
        )
    return candidates[0]


def get_schema_handler(schema: Schema) -> RpcHandler:
    """An RPC handler for ``{NCM_NS}get-schema`` serving ``schema``'s sources."""

    async def get_schema(ctx: RpcContext, op: etree._Element) -> list[etree._Element]:
        identifier_element = _param(op, "identifier")
        identifier = (
            (identifier_element.text or "").strip() if identifier_element is not None else ""
        )
        if not identifier:
            raise RpcError(
                "missing-element",
                "get-schema needs <identifier>",
                type="protocol",
                info={"bad-element": "identifier"},
            )
        version_element = _param(op, "version")
        version = (version_element.text or "").strip() if version_element is not None else None
        fmt = _format(op)
        info = find_schema(schema, identifier, version)
        data = etree.Element(_M + "data", nsmap={None: NCM_NS})  # type: ignore[dict-item]
        if fmt == "yang":
            data.text = info.text
        else:
            yin = schema.yin(info.name, info.revision)
            if yin is None:  # pragma: no cover - find_schema found the source
                raise RpcError("operation-failed", f"no YIN form of {identifier}")
            data.append(etree.fromstring(yin.encode()))
        return [data]

    return get_schema


def register(registry: Registry, schema: Schema) -> None:
    """Add the get-schema RPC."""
    registry.add_rpc(NCM_NS, "get-schema", get_schema_handler(schema))
