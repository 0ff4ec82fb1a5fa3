"""The narrow interfaces between the NETCONF server and the rest of the agent.

The server (``agent.server``) implements these hooks; the engine (``agent.engine``) and the
sources (``agent.sources``) plug into them.  Neither side imports the other: both import only
this module.  Everything here is deliberately small: a new RPC, a new state subtree or a new
config consumer is one registration.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

from lxml import etree

NETCONF_BASE_NS = "urn:ietf:params:xml:ns:netconf:base:1.0"
PA_NS = "urn:product-analytics:yang:product-analytics"

ErrorType = Literal["transport", "rpc", "protocol", "application"]


class RpcError(Exception):
    """An RFC 6241 ``rpc-error``; raise it anywhere below an RPC handler.

    ``tag`` is one of the RFC 6241 Appendix A error-tags (``invalid-value``,
    ``operation-failed``, ...).  ``path`` is an XPath to the offending node (with
    ``path_ns`` mapping the prefixes it uses), ``info`` are extra ``error-info`` children
    (localname -> text, in the base namespace, e.g. ``{"bad-element": "foo"}``).
    The server's ``errors`` module turns it into XML; nothing else builds rpc-error XML.
    """

    def __init__(
        self,
        tag: str,
        message: str,
        *,
        type: ErrorType = "application",
        severity: Literal["error", "warning"] = "error",
        app_tag: str | None = None,
        path: str | None = None,
        path_ns: Mapping[str, str] | None = None,
        info: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.tag = tag
        self.message = message
        self.type = type
        self.severity = severity
        self.app_tag = app_tag
        self.path = path
        self.path_ns = dict(path_ns or {})
        self.info = dict(info or {})


@dataclass(frozen=True)
class RpcContext:
    """What an RPC handler may know about the session that called it."""

    session_id: int
    username: str


# An RPC handler gets the RPC's operation element (e.g. ``<generate-report>``) and returns the
# children of ``<rpc-reply>`` (an empty list means ``<ok/>``), or raises RpcError.
RpcHandler = Callable[[RpcContext, etree._Element], Awaitable[list[etree._Element]]]


@dataclass(frozen=True)
class StateRequest:
    """What a ``get`` wants from one state provider.

    ``selection`` is the part of the subtree filter that applies to the provider's top-level
    node (the filter element itself, e.g. ``<product-analytics><reports/></product-analytics>``)
    or None when the whole subtree is wanted.  Providers may use it to skip work; the server
    applies the full filter to whatever they return, so returning more is always correct.
    """

    selection: etree._Element | None = None


class StateProvider(Protocol):
    """Supplies config-false (operational) data for one top-level node of a module.

    The server calls ``get_state`` only when a ``get`` selects the provider's top-level node
    (``namespace``, ``name``).  It returns that top-level element, containing only state
    (config false) nodes; the server merges it with the running configuration.  Return None
    when there is no state to show.

    Optionally a provider may also define ``state_token(request) -> Hashable | None``: a
    value that is equal whenever ``get_state(request)`` would return equal data (None: do
    not cache).  The server then reuses a serialised reply while the token is unchanged;
    providers without the method are asked on every ``get``.
    """

    namespace: str
    name: str

    def get_state(self, request: StateRequest) -> etree._Element | None: ...


class ConfigListener(Protocol):
    """Receives changes of the running configuration of one module namespace.

    ``validate`` runs before a change is committed to running (edit-config on running,
    commit, copy-config, confirmed-commit rollback); raising RpcError refuses the change and
    leaves every datastore as it was.  ``apply`` runs after running has changed.  Both get the
    module's top-level element of the old and the new running configuration (None when
    absent).
    """

    namespace: str

    def validate(self, old: etree._Element | None, new: etree._Element | None) -> None: ...

    def apply(self, old: etree._Element | None, new: etree._Element | None) -> None: ...


class ConfigWriter(Protocol):
    """Lets a part of the agent change configuration itself (e.g. the engine writing
    ``enabled true`` when the grace period expires).

    ``merge_running`` merges ``config`` (a top-level data element) into running as an
    edit-config merge would, runs the listeners, and, when ``persist`` is true, copies the
    result to startup.
    """

    def merge_running(self, config: etree._Element, *, persist: bool) -> None: ...

    def get_running(self, namespace: str, name: str) -> etree._Element | None: ...


@dataclass
class Registry:
    """Everything that plugs into the server, collected before it starts."""

    rpcs: dict[tuple[str, str], RpcHandler] = field(default_factory=dict)
    state_providers: list[StateProvider] = field(default_factory=list)
    config_listeners: list[ConfigListener] = field(default_factory=list)

    def add_rpc(self, namespace: str, name: str, handler: RpcHandler) -> None:
        key = (namespace, name)
        if key in self.rpcs:
            raise ValueError(f"RPC {{{namespace}}}{name} is registered twice")
        self.rpcs[key] = handler

    def add_state_provider(self, provider: StateProvider) -> None:
        self.state_providers.append(provider)

    def add_config_listener(self, listener: ConfigListener) -> None:
        self.config_listeners.append(listener)
