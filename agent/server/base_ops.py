"""The base operations of RFC 6241 §7 (and :validate, :startup): get, get-config,
edit-config, copy-config, delete-config, lock, unlock, close-session, kill-session, validate.
"""

from __future__ import annotations

import copy
import functools
import time
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from lxml import etree

from agent.api import NETCONF_BASE_NS, RpcError, StateProvider, StateRequest
from agent.datatree import (
    filter_selects,
    merge_into,
    subtree_filter,
    xpath_filter,
    xpath_selects,
)
from agent.datatree.copying import append_copy
from agent.schema import Schema
from agent.server import errors
from agent.server.datastores import DATA_TAG, Datastore, Lock, empty_data
from agent.server.dispatch import Dispatcher, OpContext, serialize_child
from agent.server.edit import DEFAULT_OPERATIONS, Editor, settle_default_attributes
from agent.server.errors import RpcErrors
from agent.server.readcache import parameter_key
from agent.server.with_defaults import WD_NS, apply_with_defaults, parse_with_defaults

_NC = f"{{{NETCONF_BASE_NS}}}"
_CONFIG_TAG = _NC + "config"
_FILTER_TAG = _NC + "filter"
_NC_WITH_DEFAULTS = _NC + "with-defaults"  # misplaced: it has a namespace of its own
_WD_DEFAULT_ATTR = "{urn:ietf:params:xml:ns:netconf:default:1.0}default"


# -- parameters --------------------------------------------------------------------------


def _only_params(op: etree._Element, allowed: set[str]) -> None:
    """Refuse unknown parameters; the with-defaults parameter has its own namespace."""
    seen: set[str] = set()
    for child in op:
        tag = child.tag
        if not isinstance(tag, str):
            continue
        if tag in seen:  # every parameter of the base operations is given at most once
            local = etree.QName(tag).localname
            raise errors.bad_element(local, f"<{local}> is given more than once")
        seen.add(tag)
        if tag.startswith(_NC) and tag[len(_NC) :] in allowed and tag != _NC_WITH_DEFAULTS:
            continue  # the usual case, decided without building a QName
        qname = etree.QName(child)
        if qname.namespace == WD_NS and qname.localname == "with-defaults":
            if "with-defaults" in allowed:
                continue
            raise errors.unknown_element(
                qname.localname,
                f"<{etree.QName(op).localname}> has no parameter <with-defaults>",
            )
        if qname.localname == "with-defaults":
            # RFC 6243 §4.5: the parameter is in the ietf-netconf-with-defaults namespace
            raise errors.unknown_element(
                qname.localname,
                f"<with-defaults> must be in the namespace {WD_NS}",
            )
        if qname.namespace != NETCONF_BASE_NS:
            raise errors.unknown_namespace(qname.localname, qname.namespace or "")
        if qname.localname not in allowed:
            raise errors.unknown_element(
                qname.localname,
                f"<{etree.QName(op).localname}> has no parameter <{qname.localname}>",
            )


def _datastore_name(op: etree._Element, param: str, allowed: tuple[str, ...]) -> str:
    """The datastore named in ``<source>`` or ``<target>``."""
    element = op.find(_NC + param)
    if element is None:
        raise errors.missing_element(param, f"<{etree.QName(op).localname}> needs <{param}>")
    named = [c for c in element if isinstance(c.tag, str)]
    if len(named) == 1:
        tag = named[0].tag
        assert isinstance(tag, str)
        if tag.startswith(_NC) and tag[len(_NC) :] in allowed:
            return tag[len(_NC) :]  # the usual case, decided without building a QName
    names = [etree.QName(c) for c in named]
    if len(names) != 1:
        raise errors.bad_element(param, f"<{param}> must name exactly one datastore")
    qname = names[0]
    if qname.namespace != NETCONF_BASE_NS:
        raise errors.unknown_namespace(qname.localname, qname.namespace or "")
    if qname.localname == "url":
        raise errors.operation_not_supported("the :url capability is not supported")
    if qname.localname not in allowed:
        raise errors.invalid_value(
            f"<{param}> cannot be {qname.localname} for <{etree.QName(op).localname}>",
            type="protocol",
            path=f"/nc:rpc/nc:{etree.QName(op).localname}/nc:{param}",
            path_ns={"nc": NETCONF_BASE_NS},
        )
    return qname.localname


def _inline_config(op: etree._Element, param: str) -> etree._Element | None:
    """A ``<config>`` given inline in ``<source>`` (copy-config, validate), if any."""
    element = op.find(_NC + param)
    if element is None:
        return None
    inline = element.find(_CONFIG_TAG)
    if inline is not None and sum(isinstance(c.tag, str) for c in element) != 1:
        raise errors.bad_element(param, f"<{param}> must name exactly one datastore or <config>")
    return inline


@dataclass(frozen=True)
class Filter:
    """A parsed ``<filter>`` parameter."""

    kind: str  # "subtree" or "xpath"
    children: list[etree._Element]
    select: str
    namespaces: dict[str | None, str]
    schema: Schema  # resolves module names/prefixes used as XPath prefixes (fallback)

    def selects(self, namespace: str, name: str) -> tuple[bool, etree._Element | None]:
        """Whether the filter may select top-level node ``{namespace}name``, and the
        subtree-filter part that applies to it."""
        if self.kind == "subtree":
            part = filter_selects(self.children, namespace, name)
            return part is not None, part
        selected = xpath_selects(self.select, self.namespaces, namespace, name, schema=self.schema)
        return selected, None

    def apply(self, data: etree._Element) -> etree._Element:
        """A new ``<data>`` with what the filter selects from ``data``."""
        if self.kind == "subtree":
            return subtree_filter(data, self.children, schema=self.schema)
        return xpath_filter(data, self.select, self.namespaces, schema=self.schema)


def _attr(element: etree._Element, name: str) -> str | None:
    value = element.get(name)
    if value is None:
        value = element.get(_NC + name)
    return value


def parse_filter(op: etree._Element, schema: Schema) -> Filter | None:
    """The ``<filter>`` of get/get-config, or None when there is none."""
    element = op.find(_NC + "filter")
    if element is None:
        return None
    kind = _attr(element, "type") or "subtree"
    if kind == "subtree":
        children = [c for c in element if isinstance(c.tag, str)]
        return Filter("subtree", children, "", {}, schema)
    if kind == "xpath":
        select = _attr(element, "select")
        if select is None:
            raise errors.missing_attribute("select", "filter", type="protocol")
        # RFC 6241 §8.9: prefixes come from the namespace declarations in scope of <filter>
        return Filter("xpath", [], select, dict(element.nsmap), schema)
    raise errors.bad_attribute("type", "filter", f"unknown filter type {kind!r}", type="protocol")


# -- reading -----------------------------------------------------------------------------


def _select_config(ctx: OpContext, root: etree._Element, flt: Filter | None) -> etree._Element:
    """Copy only the top-level nodes the filter may select (the rest is never copied)."""
    data = empty_data()
    for top in root:
        if not isinstance(top.tag, str):
            continue
        if flt is not None:
            namespace, _, name = top.tag[1:].partition("}")
            if not flt.selects(namespace, name)[0]:
                continue
        data.append(copy.deepcopy(top))
    return data


def _finish(
    ctx: OpContext, data: etree._Element, flt: Filter | None, mode: str | None, config_only: bool
) -> list[etree._Element]:
    schema = ctx.server.schema
    if mode is not None:
        apply_with_defaults(
            data, schema, mode, config_only=config_only, config_namespaces=ctx.server.configurable
        )
    if flt is not None:
        data = flt.apply(data)
    if data.tag != DATA_TAG:
        data.tag = DATA_TAG
    return [data]


@dataclass(frozen=True)
class GetPlan:
    """What a ``<filter>`` of get means, independent of the data: the parsed filter and the
    state providers it selects, with the part of the filter each one gets."""

    flt: Filter | None
    requests: tuple[tuple[StateProvider, StateRequest], ...]


def _get_plan(ctx: OpContext, op: etree._Element, filter_key: bytes) -> GetPlan:
    server = ctx.server
    plan = server.get_plans.get(filter_key)
    if plan is not None:
        return plan
    flt = parse_filter(op, server.schema)
    requests: list[tuple[StateProvider, StateRequest]] = []
    for provider in server.state_providers:
        selection: etree._Element | None = None
        if flt is not None:
            selected, selection = flt.selects(provider.namespace, provider.name)
            if not selected:
                continue
        requests.append((provider, StateRequest(selection=selection)))
    plan = GetPlan(flt, tuple(requests))
    server.get_plans.put(filter_key, plan)
    return plan


async def op_get(ctx: OpContext, op: etree._Element) -> Sequence[etree._Element | bytes]:
    """<get>: running plus state, filtered."""
    _only_params(op, {"filter", "with-defaults"})
    filter_key = parameter_key(op, _FILTER_TAG)
    plan = _get_plan(ctx, op, filter_key)
    mode = parse_with_defaults(op)
    server = ctx.server
    running = server.datastores.running
    flt = plan.flt
    tokens: list[Hashable] = []
    for provider, request in plan.requests:
        token = _state_token(provider, request)
        if token is None:
            break
        tokens.append(token)
    key: Hashable = None
    if len(tokens) == len(plan.requests):
        # every selected provider vouches for its state: the reply is a function of the key
        generation = running.generation
        ctx.valid_while = functools.partial(_unchanged, running, generation, plan, tuple(tokens))
        key = ("get", generation, filter_key, mode, tuple(tokens))
        cached = server.reply_cache.get(key)
        if cached is not None:
            return [cached]
    data = _select_config(ctx, running.root, flt)
    for provider, request in plan.requests:
        state = provider.get_state(request)
        if state is None:
            continue
        if data.find(state.tag) is None:
            # nothing of this node in running (e.g. /netconf-state): no merge needed; the
            # copy keeps a provider's own tree out of the reply's edits, and the prefixes its
            # identityref values use (a plain append would let lxml drop them)
            append_copy(data, state)
            continue
        # merge_into merges two elements of the same QName: wrap the state in <data>
        overlay = empty_data()
        overlay.append(state)
        merge_into(data, overlay, server.schema)
    result = _finish(ctx, data, flt, mode, config_only=False)
    if key is None:
        return result
    body = serialize_child(result[0])
    server.reply_cache.put(key, body)
    return [body]


async def op_get_config(ctx: OpContext, op: etree._Element) -> Sequence[etree._Element | bytes]:
    """<get-config>: one configuration datastore, filtered."""
    _only_params(op, {"source", "filter", "with-defaults"})
    name = _datastore_name(op, "source", ("running", "candidate", "startup"))
    server = ctx.server
    try:
        mode = parse_with_defaults(op)
    except RpcError:
        parse_filter(op, server.schema)  # a bad filter is reported first, as it always was
        raise
    store = server.datastores.get(name)
    # a datastore's content is replaced, never changed in place: its generation identifies it
    generation = store.generation
    ctx.valid_while = lambda: store.generation == generation
    key = ("get-config", name, generation, parameter_key(op, _FILTER_TAG), mode)
    cached = server.reply_cache.get(key)
    if cached is not None:
        return [cached]
    flt = parse_filter(op, server.schema)
    data = _select_config(ctx, store.root, flt)
    body = serialize_child(_finish(ctx, data, flt, mode, config_only=True)[0])
    server.reply_cache.put(key, body)
    return [body]


def _unchanged(
    running: Datastore, generation: int, plan: GetPlan, tokens: tuple[Hashable, ...]
) -> bool:
    """Whether a get planned as ``plan`` would answer what it answered at ``generation``
    of running with the providers' state ``tokens``."""
    if running.generation != generation:
        return False
    return all(
        _state_token(provider, request) == token
        for (provider, request), token in zip(plan.requests, tokens, strict=True)
    )


def _state_token(provider: StateProvider, request: StateRequest) -> Hashable | None:
    """The provider's optional promise that its state is unchanged (see readcache)."""
    method = getattr(provider, "state_token", None)
    if method is None:
        return None
    token: Hashable | None = method(request)
    return token


# -- writing -----------------------------------------------------------------------------


def _check_lock(ctx: OpContext, store: Datastore) -> None:
    lock = store.lock
    if lock is not None and lock.session_id != ctx.session.session_id:
        raise errors.in_use(f"{store.name} is locked by session {lock.session_id}")


async def op_edit_config(ctx: OpContext, op: etree._Element) -> list[etree._Element]:
    """<edit-config> on running or candidate.

    The edit is applied to a copy that replaces the datastore only when everything
    succeeded, so stop-on-error and rollback-on-error both leave the datastore untouched on
    an error.  continue-on-error applies every part that succeeds and reports the parts
    that failed in one reply with several rpc-errors (validation of the result still has to
    pass).  test-option set skips the datastore-wide validation (leaf values are still
    checked); test-only validates and changes nothing.
    """
    _only_params(
        op, {"target", "default-operation", "test-option", "error-option", "config", "url"}
    )
    server = ctx.server
    name = _datastore_name(op, "target", ("running", "candidate"))
    default_operation = (op.findtext(_NC + "default-operation") or "merge").strip()
    if default_operation not in DEFAULT_OPERATIONS:
        raise errors.invalid_value(
            f"bad default-operation {default_operation!r}",
            type="protocol",
            path="/nc:rpc/nc:edit-config/nc:default-operation",
            path_ns={"nc": NETCONF_BASE_NS},
        )
    test_option = (op.findtext(_NC + "test-option") or "test-then-set").strip()
    if test_option not in ("test-then-set", "set", "test-only"):
        raise errors.invalid_value(f"bad test-option {test_option!r}", type="protocol")
    error_option = (op.findtext(_NC + "error-option") or "stop-on-error").strip()
    if error_option not in ("stop-on-error", "continue-on-error", "rollback-on-error"):
        raise errors.invalid_value(f"bad error-option {error_option!r}", type="protocol")
    if op.find(_NC + "url") is not None:
        raise errors.operation_not_supported("the :url capability is not supported")
    config = op.find(_CONFIG_TAG)
    if config is None:
        raise errors.missing_element("config", "<edit-config> needs <config>")

    store = server.datastores.get(name)
    _check_lock(ctx, store)
    if default_operation == "replace":
        # RFC 6241 §7.2: the <config> completely replaces the datastore
        new_root = server.with_readonly(empty_data()) if name == "running" else empty_data()
        operation = "merge"
    else:
        new_root = store.copy()
        operation = default_operation
    editor = Editor(
        server.schema,
        continue_on_error=error_option == "continue-on-error",
        readonly=server.readonly,
        configurable=server.configurable,
    )
    editor.apply(new_root, config, operation)
    if test_option != "set":
        try:
            server.validate(new_root)
        except RpcError as error:
            if editor.errors:
                raise RpcErrors([*editor.errors, error]) from None
            raise
    if test_option == "test-only":
        if name == "running":
            server.check_listeners(new_root)
        if editor.errors:
            raise RpcErrors(editor.errors)
        return []
    if name == "running":
        server.change_running(new_root, session_id=ctx.session.session_id, cause="edit-config")
    else:
        store.replace(new_root)
        server.datastores.candidate_dirty = True
    if editor.errors:
        # continue-on-error: what could be applied was; the reply lists what could not
        raise RpcErrors(editor.errors)
    return []


async def op_copy_config(ctx: OpContext, op: etree._Element) -> list[etree._Element]:
    """<copy-config> between datastores, or from an inline <config>."""
    _only_params(op, {"target", "source", "with-defaults"})
    server = ctx.server
    target = _datastore_name(op, "target", ("running", "candidate", "startup"))
    mode = parse_with_defaults(op)
    inline = _inline_config(op, "source")
    if inline is not None:
        new_root = empty_data()
        for element in inline:
            if isinstance(element.tag, str):
                new_root.append(copy.deepcopy(element))
        # RFC 6243 §4.5.2: leaves tagged wd:default="true" are not explicit configuration
        settle_default_attributes(server.schema, new_root)
        source = None
    else:
        source = _datastore_name(op, "source", ("running", "candidate", "startup"))
        if source == target:
            raise errors.invalid_value(
                "source and target of <copy-config> are the same datastore", type="protocol"
            )
        new_root = server.datastores.get(source).copy()
    if mode is not None:
        apply_with_defaults(
            new_root, server.schema, mode, config_only=True, config_namespaces=server.configurable
        )
        # tagged defaults carry an attribute that is not configuration
        for element in new_root.iter():
            if _WD_DEFAULT_ATTR in element.attrib:
                del element.attrib[_WD_DEFAULT_ATTR]
    store = server.datastores.get(target)
    _check_lock(ctx, store)
    # new_root is this operation's own tree: validating it also stores its values in
    # canonical form, as an edit would (an inline config may spell 7 as 007)
    if target == "startup":
        new_root = server.without_readonly(new_root)
        server.validate(new_root, canonicalize=True)
        server.datastores.write_startup(new_root)
    elif target == "running":
        new_root = server.with_readonly(new_root)
        server.validate(new_root, canonicalize=True)
        server.change_running(new_root, session_id=ctx.session.session_id, cause="copy-config")
    else:
        new_root = server.with_readonly(new_root)
        server.validate(new_root, canonicalize=True)
        store.replace(new_root)
        server.datastores.candidate_dirty = True
    return []


async def op_delete_config(ctx: OpContext, op: etree._Element) -> list[etree._Element]:
    """<delete-config>: only startup can be deleted (running never, RFC 6241 §7.4)."""
    _only_params(op, {"target"})
    _datastore_name(op, "target", ("startup",))
    store = ctx.server.datastores.startup
    _check_lock(ctx, store)
    ctx.server.datastores.delete_startup()
    return []


async def op_lock(ctx: OpContext, op: etree._Element) -> list[etree._Element]:
    """<lock>: a global lock on one datastore (RFC 6241 §7.5)."""
    _only_params(op, {"target"})
    server = ctx.server
    name = _datastore_name(op, "target", ("running", "candidate", "startup"))
    store = server.datastores.get(name)
    if store.lock is not None:
        raise errors.lock_denied(store.lock.session_id)
    if name == "candidate" and server.datastores.candidate_dirty:
        # RFC 6241 §8.3.5.1: no lock on a candidate holding changes not committed
        raise RpcError(
            "lock-denied",
            "the candidate holds uncommitted changes; commit or discard them first",
            type="protocol",
            info={"session-id": "0"},
        )
    store.lock = Lock(ctx.session.session_id, time.time())
    return []


async def op_unlock(ctx: OpContext, op: etree._Element) -> list[etree._Element]:
    """<unlock>: release a lock this session holds."""
    _only_params(op, {"target"})
    name = _datastore_name(op, "target", ("running", "candidate", "startup"))
    store = ctx.server.datastores.get(name)
    if store.lock is None:
        raise errors.operation_failed(f"{name} is not locked", type="protocol")
    if store.lock.session_id != ctx.session.session_id:
        holder = store.lock.session_id
        raise errors.lock_denied(holder, f"{name} is locked by session {holder}")
    store.lock = None
    return []


async def op_close_session(ctx: OpContext, op: etree._Element) -> list[etree._Element]:
    """<close-session>: reply ok, then end the session."""
    _only_params(op, set())
    ctx.session.closing = True
    return []


async def op_kill_session(ctx: OpContext, op: etree._Element) -> list[etree._Element]:
    """<kill-session>: end another session, releasing its locks."""
    _only_params(op, {"session-id"})
    text = (op.findtext(_NC + "session-id") or "").strip()
    if op.find(_NC + "session-id") is None:
        raise errors.missing_element("session-id", "<kill-session> needs <session-id>")
    if not (text.isascii() and text.isdigit() and len(text) <= 10):  # session-id: uint32
        raise errors.invalid_value(f"bad session-id {text[:40]!r}", type="protocol")
    session_id = int(text)
    if session_id == ctx.session.session_id:
        raise errors.invalid_value(
            "a session cannot kill itself; use close-session", type="protocol"
        )
    victim = ctx.server.sessions.get(session_id)
    if victim is None:
        raise errors.invalid_value(f"no session {session_id}", type="protocol")
    victim.kill()
    # RFC 6022: a killed session is not counted in dropped-sessions
    ctx.server.session_ended(victim, clean=True)
    return []


async def op_validate(ctx: OpContext, op: etree._Element) -> list[etree._Element]:
    """<validate> (:validate:1.1) of a datastore or an inline <config>."""
    _only_params(op, {"source"})
    server = ctx.server
    inline = _inline_config(op, "source")
    if inline is not None:
        root = empty_data()
        for element in inline:
            if isinstance(element.tag, str):
                root.append(copy.deepcopy(element))
        settle_default_attributes(server.schema, root)
    else:
        name = _datastore_name(op, "source", ("running", "candidate", "startup"))
        root = server.datastores.get(name).root
    server.validate(root)
    # what would be refused when it became running is not valid either
    server.check_listeners(server.with_readonly(copy.deepcopy(root)))
    return []


def register(dispatcher: Dispatcher) -> None:
    """Add the base operations to the dispatcher."""
    for name, handler in (
        ("get", op_get),
        ("get-config", op_get_config),
        ("edit-config", op_edit_config),
        ("copy-config", op_copy_config),
        ("delete-config", op_delete_config),
        ("lock", op_lock),
        ("unlock", op_unlock),
        ("close-session", op_close_session),
        ("kill-session", op_kill_session),
        ("validate", op_validate),
    ):
        dispatcher.add(NETCONF_BASE_NS, name, handler)
