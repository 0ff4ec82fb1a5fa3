"""RPC dispatch: ``(namespace, name)`` of the operation element -> handler.

Built-in operations (base_ops, candidate, monitoring, schemas...) and RPCs registered by the
rest of the agent through ``agent.api.Registry`` live in one table.  Unknown operations get
the RFC 6241 error: ``unknown-namespace`` for a namespace no implemented module has,
``operation-not-supported`` for an RPC the schema defines but nothing implements, and
``unknown-element`` otherwise.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lxml import etree

from agent.api import RpcContext, RpcHandler
from agent.server import errors
from agent.server.validation import validate_rpc_input

if TYPE_CHECKING:
    from agent.schema import Schema
    from agent.server.server import NetconfServer
    from agent.server.session import NetconfSession


@dataclass
class OpContext:
    """What a built-in operation handler gets: its session and the server.

    A read whose reply is a function of the request and of some state the server can check
    cheaply sets ``valid_while`` to that check (true while the state is unchanged); the
    session then answers repeats of the request from ``requestmemo`` while it holds.
    """

    session: NetconfSession
    server: NetconfServer
    valid_while: Callable[[], bool] | None = None


# A built-in handler returns the children of <rpc-reply> (empty = <ok/>): elements, or bytes
# already serialised by ``serialize_child`` (a cached reply body).
OpHandler = Callable[[OpContext, etree._Element], Awaitable[Sequence[etree._Element | bytes]]]


def serialize_child(element: etree._Element) -> bytes:
    """One child of <rpc-reply> as it goes on the wire.

    Serialised in place rather than moved under <rpc-reply>: a move lets lxml drop namespace
    declarations it thinks redundant, including those that identityref values
    (``ncm:netconf-ssh``) need; serialising a subelement declares everything in its scope.
    """
    return etree.tostring(element, encoding="UTF-8", with_tail=False)


class Dispatcher:
    """The table of every operation the server answers."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self._ops: dict[tuple[str, str], OpHandler] = {}

    def add(self, namespace: str, name: str, handler: OpHandler) -> None:
        """Register a built-in operation."""
        key = (namespace, name)
        if key in self._ops:
            raise ValueError(f"operation {{{namespace}}}{name} is registered twice")
        self._ops[key] = handler

    def add_external(self, namespace: str, name: str, handler: RpcHandler) -> None:
        """Register an RPC of another part of the agent (agent.api.RpcHandler)."""
        rpc_schema = self.schema.rpc(namespace, name)

        async def call(ctx: OpContext, op: etree._Element) -> list[etree._Element]:
            if rpc_schema is not None:
                validate_rpc_input(rpc_schema, op)
            context = RpcContext(session_id=ctx.session.session_id, username=ctx.session.username)
            return await handler(context, op)

        self.add(namespace, name, call)

    def names(self) -> list[tuple[str, str]]:
        """Every registered operation."""
        return sorted(self._ops)

    def lookup(self, op: etree._Element) -> OpHandler:
        """The handler for the operation element ``op``, or raise the RFC error."""
        qname = etree.QName(op)
        namespace = qname.namespace or ""
        handler = self._ops.get((namespace, qname.localname))
        if handler is not None:
            return handler
        if self.schema.rpc(namespace, qname.localname) is not None:
            raise errors.operation_not_supported(
                f"operation <{qname.localname}> of {namespace} is not implemented"
            )
        if not namespace or self.schema.module_by_namespace(namespace) is None:
            if namespace:
                raise errors.unknown_namespace(qname.localname, namespace)
            raise errors.unknown_element(
                qname.localname, f"operation <{qname.localname}> has no namespace"
            )
        raise errors.unknown_element(
            qname.localname, f"unknown operation <{qname.localname}> in {namespace}"
        )


def check_only_known_children(op: etree._Element, allowed: set[str], namespace: str) -> None:
    """Refuse a parameter of ``op`` that the operation does not define, or one given twice
    (every parameter of the operations using this is a single leaf or container)."""
    seen: set[str] = set()
    for child in op:
        if not isinstance(child.tag, str):
            continue
        qname = etree.QName(child)
        if child.tag in seen:
            raise errors.bad_element(
                qname.localname, f"<{qname.localname}> is given more than once"
            )
        seen.add(child.tag)
        if qname.namespace != namespace:
            raise errors.unknown_namespace(qname.localname, qname.namespace or "")
        if qname.localname not in allowed:
            raise errors.unknown_element(
                qname.localname,
                f"<{etree.QName(op).localname}> has no parameter <{qname.localname}>",
            )
