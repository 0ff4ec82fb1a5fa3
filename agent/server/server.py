"""``NetconfServer``: composes transport, sessions, dispatch, datastores and the schema.

Owns everything shared between sessions (datastores, locks, the confirmed-commit state,
statistics) and the one path by which running changes (``change_running``): listeners
validate, running is swapped, listeners apply, subscribers hear about it.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncssh
from lxml import etree

from agent.api import NETCONF_BASE_NS, PA_NS, ConfigListener, Registry, RpcError, StateProvider
from agent.config import ServerConfig
from agent.schema import DEFAULT_MODULES, Schema, split_tag
from agent.server import base_ops, candidate
from agent.server.auth import UserStore, load_or_create_host_key
from agent.server.datastores import Datastores
from agent.server.dispatch import Dispatcher
from agent.server.edit import Editor
from agent.server.monitoring import MonitoringProvider, Statistics
from agent.server.readcache import Memo, ReplyCache
from agent.server.requestmemo import RequestMemo
from agent.server.session import NetconfSession
from agent.server.ssh import ProcessChannel, start_ssh_server
from agent.server.validation import PaBindingValidator, validate_config
from agent.server.xmlparse import HardenedParser

log = logging.getLogger(__name__)

_NC = f"{{{NETCONF_BASE_NS}}}"

# Protocol capabilities the base operations implement (RFC 6241 §8).
PROTOCOL_CAPABILITIES: tuple[str, ...] = (
    "urn:ietf:params:netconf:capability:writable-running:1.0",
    "urn:ietf:params:netconf:capability:candidate:1.0",
    "urn:ietf:params:netconf:capability:confirmed-commit:1.0",
    "urn:ietf:params:netconf:capability:confirmed-commit:1.1",
    "urn:ietf:params:netconf:capability:rollback-on-error:1.0",
    "urn:ietf:params:netconf:capability:validate:1.0",
    "urn:ietf:params:netconf:capability:validate:1.1",
    "urn:ietf:params:netconf:capability:startup:1.0",
    "urn:ietf:params:netconf:capability:xpath:1.0",
)


@dataclass(frozen=True)
class ConfigChange:
    """One change of running, as seen by in-process subscribers."""

    old: etree._Element  # running before (<data>)
    new: etree._Element  # running after
    namespaces: frozenset[str]  # module namespaces whose top-level nodes changed
    session_id: int  # 0 when the agent itself changed it (ConfigWriter, rollback timer)
    cause: str  # edit-config, commit, copy-config, rollback, config-writer


class _ConfigWriter:
    """agent.api.ConfigWriter for the rest of the agent."""

    def __init__(self, server: NetconfServer) -> None:
        self._server = server

    def merge_running(self, config: etree._Element, *, persist: bool) -> None:
        server = self._server
        new_root = server.datastores.running.copy()
        wrapper = etree.Element(_NC + "config")
        wrapper.append(copy.deepcopy(config))
        Editor(server.schema, readonly=server.readonly, configurable=server.configurable).apply(
            new_root, wrapper, "merge"
        )
        server.validate(new_root)
        server.change_running(new_root, session_id=0, cause="config-writer")
        if persist:
            server.datastores.write_startup(server.without_readonly(new_root))

    def get_running(self, namespace: str, name: str) -> etree._Element | None:
        element = self._server.datastores.running.top(namespace, name)
        return None if element is None else copy.deepcopy(element)


class NetconfServer:
    """The NETCONF server over SSH (RFC 6241, 6242) of the agent."""

    def __init__(
        self,
        config: ServerConfig,
        state_dir: Path,
        registry: Registry,
        *,
        modules: Sequence[str] | None = None,
        preload_running: Sequence[etree._Element] = (),
    ) -> None:
        self.config = config
        self.state_dir = state_dir
        self.registry = registry
        self.schema = _load_schema(tuple(modules) if modules is not None else DEFAULT_MODULES)
        self.parser = HardenedParser(config.max_message_size)
        self.reply_cache = ReplyCache()
        self.request_memo = RequestMemo()
        self.get_plans: Memo[base_ops.GetPlan] = Memo()
        self.users = UserStore(state_dir)
        self.stats = Statistics()
        self.datastores = Datastores(state_dir)
        self.binding = PaBindingValidator()
        self.sessions: dict[int, NetconfSession] = {}
        self._next_session_id = 1
        self._acceptor: asyncssh.SSHAcceptor | None = None
        self._subscribers: list[Callable[[ConfigChange], None]] = []
        self.port = 0
        self.config_writer = _ConfigWriter(self)

        # Configuration is accepted only for modules some part of the agent consumes: our own
        # module, and namespaces with a registered ConfigListener.  The others (ietf-interfaces
        # and friends, served for the host source) are operational state only.
        self.configurable: set[str] = {PA_NS} | {
            listener.namespace for listener in registry.config_listeners
        }
        # read-only subtrees served in running without schema (e.g. a device's native config)
        self.readonly: set[tuple[str, str]] = set()
        for element in preload_running:
            self.readonly.add(split_tag(element.tag))
        self._check_startup()
        self._preloaded = [copy.deepcopy(e) for e in preload_running]
        for store in (self.datastores.running, self.datastores.candidate):
            for element in self._preloaded:
                store.root.append(copy.deepcopy(element))

        self.confirmed = candidate.ConfirmedCommits(self)
        self.dispatcher = Dispatcher(self.schema)
        base_ops.register(self.dispatcher)
        candidate.register(self.dispatcher)

        # discovery parts (get-schema, yang-library) plug in like any other part of the agent
        internal = Registry()
        from agent.server import schemas, yang_library

        schemas.register(internal, self.schema)
        yang_library.register(internal, self.schema)
        for (namespace, name), handler in {**internal.rpcs, **registry.rpcs}.items():
            self.dispatcher.add_external(namespace, name, handler)
        self.state_providers: list[StateProvider] = [
            MonitoringProvider(self),
            *internal.state_providers,
            *registry.state_providers,
        ]
        from agent.server.capabilities import build_capabilities

        self.capabilities = build_capabilities(self.schema, PROTOCOL_CAPABILITIES)
        self._hello_prefix, self._hello_suffix = self._hello_parts()

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Create host key and admin user if needed, then listen (``port`` 0 picks one)."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        host_key = load_or_create_host_key(self.state_dir)
        generated = self.users.ensure_admin()
        if generated is not None:
            # printed exactly once, on the first start; only the hash is stored
            print(
                f"pa-agent: created user 'admin' with password {generated} "
                f"(stored hashed in {self.users.path})",
                file=sys.stderr,
                flush=True,
            )
        self._acceptor = await start_ssh_server(
            self.config.host,
            self.config.port,
            host_key,
            self.users,
            self._start_session,
            self.config.ssh_ciphers,
        )
        self.port = self._acceptor.get_port()
        log.info("NETCONF over SSH listening on %s port %d", self.config.host, self.port)

    async def close(self) -> None:
        """Close every session and stop listening."""
        self.confirmed.cancel_timer()
        if self._acceptor is not None:
            self._acceptor.close()
        tasks = []
        for session in list(self.sessions.values()):
            session.kill()
            if session.task is not None:
                tasks.append(session.task)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._acceptor is not None:
            await self._acceptor.wait_closed()
            self._acceptor = None

    def subscribe(self, callback: Callable[[ConfigChange], None]) -> Callable[[], None]:
        """Call ``callback`` after every change of running; returns the unsubscribe function."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback)

    # -- sessions ----------------------------------------------------------------------

    async def _start_session(self, channel: ProcessChannel, username: str, source: str) -> None:
        if len(self.sessions) >= self.config.max_sessions:
            log.warning(
                "refusing a session of %s: max-sessions %d reached", username, len(self.sessions)
            )
            channel.close()
            return
        session_id = self._next_session_id
        self._next_session_id += 1
        session = NetconfSession(self, session_id, username, source, channel)
        self.sessions[session_id] = session
        session.task = asyncio.current_task()
        await session.run()

    def session_ended(self, session: NetconfSession, *, clean: bool) -> None:
        """Release what the session held: locks, a candidate it locked, its confirmed commit."""
        if self.sessions.pop(session.session_id, None) is None:
            return
        if session.established and not clean:
            self.stats.dropped_sessions += 1
        self.confirmed.session_ended(session.session_id)
        for store in self.datastores.all():
            if store.lock is not None and store.lock.session_id == session.session_id:
                store.lock = None
                if store is self.datastores.candidate:
                    # RFC 6241 §8.3.5.2: changes of a session that ends holding the candidate
                    # lock are discarded
                    self.discard_candidate()
        log.debug("session %d ended", session.session_id)

    def _hello_parts(self) -> tuple[bytes, bytes]:
        hello = etree.Element(_NC + "hello", nsmap={None: NETCONF_BASE_NS})  # type: ignore[dict-item]
        caps = etree.SubElement(hello, _NC + "capabilities")
        for uri in self.capabilities:
            etree.SubElement(caps, _NC + "capability").text = uri
        etree.SubElement(hello, _NC + "session-id").text = "SESSION-ID"
        text = etree.tostring(hello, encoding="UTF-8", xml_declaration=True)
        prefix, suffix = text.split(b"SESSION-ID")
        return prefix, suffix

    def hello_message(self, session_id: int) -> bytes:
        """The server's hello for a session."""
        return self._hello_prefix + str(session_id).encode() + self._hello_suffix

    # -- configuration -----------------------------------------------------------------

    def validate(self, root: etree._Element, *, canonicalize: bool = False) -> None:
        """Raise RpcError unless ``root`` is a valid configuration (``canonicalize``: and
        rewrite its leaf values in canonical form; never for a datastore's own tree)."""
        validate_config(
            self.schema,
            root,
            readonly=self.readonly,
            binding=self.binding,
            configurable=self.configurable,
            canonicalize=canonicalize,
        )

    def _check_startup(self) -> None:
        """Validate the startup loaded at boot as an edit of running would be (schema,
        pyangbind, configurable modules, config listeners); an invalid startup is moved aside
        and the server starts with an empty configuration."""
        startup = self.datastores.startup.root
        try:
            self.validate(startup)
            for listener in self.registry.config_listeners:
                new = _top_of(startup, listener.namespace)
                if new is not None:
                    listener.validate(None, new)
        except RpcError as error:
            where = f" at {error.path}" if error.path else ""
            self.datastores.reject_startup(f"{error.tag}{where}: {error.message}")

    def without_readonly(self, root: etree._Element) -> etree._Element:
        """A copy of ``root`` without the read-only preloaded subtrees (for startup)."""
        result = copy.deepcopy(root)
        for element in list(result):
            if isinstance(element.tag, str) and split_tag(element.tag) in self.readonly:
                result.remove(element)
        return result

    def with_readonly(self, root: etree._Element) -> etree._Element:
        """``root`` with the read-only subtrees of running put back (copy-config, commit)."""
        for element in list(root):
            if isinstance(element.tag, str) and split_tag(element.tag) in self.readonly:
                root.remove(element)
        for element in self.datastores.running.root:
            if isinstance(element.tag, str) and split_tag(element.tag) in self.readonly:
                root.append(copy.deepcopy(element))
        return root

    def discard_candidate(self) -> None:
        """candidate := running (discard-changes)."""
        self.datastores.candidate.replace(self.datastores.running.copy())
        self.datastores.candidate_dirty = False

    def check_listeners(self, new_root: etree._Element) -> tuple[set[str], list[ConfigListener]]:
        """Ask the config listeners of every namespace that ``new_root`` changes against
        running whether they accept it (RpcError if one does not); nothing changes.

        Returns the changed namespaces and their listeners.
        """
        old_root = self.datastores.running.root
        changed = _changed_namespaces(old_root, new_root)
        listeners: list[ConfigListener] = [
            listener for listener in self.registry.config_listeners if listener.namespace in changed
        ]
        for listener in listeners:
            namespace = listener.namespace
            listener.validate(_top_of(old_root, namespace), _top_of(new_root, namespace))
        return changed, listeners

    def change_running(self, new_root: etree._Element, *, session_id: int, cause: str) -> None:
        """Make ``new_root`` (already validated) the running configuration.

        Config listeners of the changed namespaces validate first (an RpcError refuses the
        change and nothing changes), then running is swapped and they apply it.
        """
        old_root = self.datastores.running.root
        changed, listeners = self.check_listeners(new_root)
        self.datastores.running.replace(new_root)
        if not self.datastores.candidate_dirty:
            self.datastores.candidate.replace(copy.deepcopy(new_root))
        for listener in listeners:
            namespace = listener.namespace
            try:
                listener.apply(_top_of(old_root, namespace), _top_of(new_root, namespace))
            except Exception:
                log.exception("config listener of %s failed", listener.namespace)
        if changed:
            change = ConfigChange(old_root, new_root, frozenset(changed), session_id, cause)
            for callback in list(self._subscribers):
                try:
                    callback(change)
                except Exception:
                    log.exception("config change subscriber failed")


_schemas: dict[tuple[str, ...], Schema] = {}


def _load_schema(modules: tuple[str, ...]) -> Schema:
    # a Schema is immutable once loaded: servers of one process (tests, the device
    # simulator next to the agent) share it instead of parsing the modules again
    schema = _schemas.get(modules)
    if schema is None:
        schema = _schemas[modules] = Schema.load(modules)
    return schema


def _top_of(root: etree._Element, namespace: str) -> etree._Element | None:
    for element in root:
        if isinstance(element.tag, str) and split_tag(element.tag)[0] == namespace:
            return element
    return None


def _changed_namespaces(old: etree._Element, new: etree._Element) -> set[str]:
    def by_namespace(root: etree._Element) -> dict[str, list[bytes]]:
        result: dict[str, list[bytes]] = {}
        for element in root:
            if isinstance(element.tag, str):
                result.setdefault(split_tag(element.tag)[0], []).append(
                    etree.tostring(element, method="c14n")
                )
        return result

    before, after = by_namespace(old), by_namespace(new)
    return {ns for ns in before.keys() | after.keys() if before.get(ns) != after.get(ns)}
