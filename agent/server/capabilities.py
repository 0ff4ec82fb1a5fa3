"""The capabilities of the server's ``<hello>`` (RFC 6241 §8, RFC 7950 §5.6.4, RFC 8526 §2).

- base:1.0 and base:1.1, then the protocol capabilities the caller implements;
- with-defaults (RFC 6243) with its basic mode and the other supported modes;
- yang-library:1.1 with the library's revision and content-id (RFC 8526 §2): YANG 1.1
  modules are announced only there (RFC 7950 §5.6.4), clients read ``/yang-library``;
- one module capability ``NAMESPACE?module=NAME&revision=REV[&features=..][&deviations=..]``
  per implemented YANG 1.0 module (RFC 6020 §5.6.4), which is what ncclient's
  ``server_capabilities``, netconf-console2's ``--hello`` and NSO's discovery list.

``legacy_yang_library=True`` adds the RFC 7895 ``yang-library:1.0`` capability
(``module-set-id``) for clients that predate RFC 8525; it is off by default because RFC
8526 says yang-library:1.1 replaces it.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote

from agent.schema import ModuleInfo, Schema
from agent.server.with_defaults import CAPABILITY as WITH_DEFAULTS_CAPABILITY
from agent.server.yang_library import YANGLIB_REVISION, content_id

BASE_1_0 = "urn:ietf:params:netconf:base:1.0"
BASE_1_1 = "urn:ietf:params:netconf:base:1.1"
YANG_LIBRARY_1_1 = "urn:ietf:params:netconf:capability:yang-library:1.1"
YANG_LIBRARY_1_0 = "urn:ietf:params:netconf:capability:yang-library:1.0"


def module_capability(info: ModuleInfo) -> str:
    """The module capability URI of one YANG 1.0 module."""
    params = [f"module={quote(info.name)}"]
    if info.revision:
        params.append(f"revision={info.revision}")
    if info.features:
        params.append("features=" + ",".join(quote(f) for f in info.features))
    if info.deviations:
        params.append("deviations=" + ",".join(quote(name) for name, _ in info.deviations))
    return f"{info.namespace}?{'&'.join(params)}"


def build_capabilities(
    schema: Schema, protocol_caps: Sequence[str], *, legacy_yang_library: bool = False
) -> list[str]:
    """Every capability URI of the server's hello, without duplicates, in a stable order."""
    caps = [BASE_1_0, BASE_1_1, *protocol_caps, WITH_DEFAULTS_CAPABILITY]
    cid = content_id(schema)
    caps.append(f"{YANG_LIBRARY_1_1}?revision={YANGLIB_REVISION}&content-id={cid}")
    if legacy_yang_library:
        caps.append(f"{YANG_LIBRARY_1_0}?revision={YANGLIB_REVISION}&module-set-id={cid}")
    for info in schema.modules():
        if info.conformance == "implement" and info.yang_version == "1":
            caps.append(module_capability(info))
    seen: set[str] = set()
    unique = []
    for cap in caps:
        if cap not in seen:
            seen.add(cap)
            unique.append(cap)
    return unique
