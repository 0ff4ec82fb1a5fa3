"""The analytics engine: policy, subscriber, store, KPIs, reports and enablement in one object.

The NETCONF server sees the engine only through ``agent.api``: ``Engine.register`` adds

- a state provider for ``/pa:product-analytics`` (status, policy, statistics, and the
  reports that ``agent.engine.reports`` builds once per report),
- a config listener for the ``pa`` namespace (``enabled`` and ``storage`` take effect at
  once),
- the RPCs ``generate-report``, ``clear-statistics`` and ``install-policy``.

``start(config_writer)`` reads ``enabled``/``storage`` from running, opens the store and
starts the lifecycle; the writer is kept to write ``enabled true`` when the grace period
expires.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from lxml import etree

from agent.api import PA_NS, ConfigWriter, Registry, RpcContext, RpcError, StateRequest
from agent.config import EngineConfig
from agent.engine.clock import Clock, date_and_time
from agent.engine.lifecycle import PERIOD_START_KEY, Lifecycle
from agent.engine.policy import (
    PolicyError,
    PolicyInfo,
    TrustedKey,
    builtin_policy_info,
    load_policy_file,
    load_public_key,
    load_trusted_keys,
    resolve_policy_path,
    signature_path,
    verify_policy_bytes,
)
from agent.engine.stats import Event, EventHistory, Statistics
from agent.engine.store import StorageMode, Store, StoreError
from agent.engine.subscriber import Subscriber
from agent.fileutil import write_atomically
from agent.sources.base import Source

log = logging.getLogger("agent.engine")

NS = f"{{{PA_NS}}}"
INSTALLED_POLICY = Path("policy") / "installed.json"
STATE_CONTAINERS = ("status", "policy", "statistics", "reports")


class ReportBuilderLike(Protocol):
    """What the engine needs from the report builder (``agent.engine.reports``)."""

    def generate(self, period_start: float, period_end: float) -> int: ...

    def reports_xml(self, selection: etree._Element | None) -> etree._Element | None: ...


ReportBuilderFactory = Callable[["Engine"], ReportBuilderLike]


def _leaf(parent: etree._Element, name: str, value: object) -> None:
    if value is None:
        return
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    etree.SubElement(parent, NS + name).text = text


def _restore(files: Sequence[Path], contents: Sequence[bytes | None]) -> None:
    """Put ``files`` back as they were (None: the file did not exist)."""
    for path, content in zip(files, contents, strict=True):
        try:
            if content is None:
                path.unlink(missing_ok=True)
            else:
                write_atomically(path, content, mode=0o644)
        except OSError:
            log.exception("install-policy: cannot restore %s", path)


def _child_text(element: etree._Element | None, name: str) -> str | None:
    if element is None:
        return None
    child = element.find(NS + name)
    if child is None:
        return None
    return (child.text or "").strip()


def _parse_enabled(config: etree._Element | None) -> bool | None:
    text = _child_text(config, "enabled")
    if text is None:
        return None
    return text == "true"


def _parse_storage(config: etree._Element | None) -> StorageMode:
    return "in-memory" if _child_text(config, "storage") == "in-memory" else "on-disk"


def _parse_transport_mode(config: etree._Element | None) -> str:
    transport = config.find(NS + "transport") if config is not None else None
    return _child_text(transport, "mode") or "off"


def _wanted(selection: etree._Element | None) -> set[str]:
    """Which of our state containers a subtree-filter selection asks for."""
    if selection is None or len(selection) == 0:
        return set(STATE_CONTAINERS)
    wanted: set[str] = set()
    for child in selection:
        if not isinstance(child.tag, str):
            continue
        qname = etree.QName(child)
        if qname.namespace not in (None, PA_NS):
            continue
        if len(child) == 0 and (child.text or "").strip():
            return set(STATE_CONTAINERS)  # a content match node selects every sibling
        if qname.localname in STATE_CONTAINERS:
            wanted.add(qname.localname)
    return wanted


class _StateProvider:
    namespace = PA_NS
    name = "product-analytics"

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def get_state(self, request: StateRequest) -> etree._Element | None:
        return self._engine.state_xml(request.selection)


class _ConfigListener:
    namespace = PA_NS

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def validate(self, old: etree._Element | None, new: etree._Element | None) -> None:
        self._engine.validate_config(new)

    def apply(self, old: etree._Element | None, new: etree._Element | None) -> None:
        self._engine.apply_config(new)


class Engine:
    """The product analytics engine (see the module docstring)."""

    def __init__(
        self,
        config: EngineConfig,
        state_dir: Path,
        clock: Clock,
        source: Source,
        *,
        report_builder: ReportBuilderFactory | None = None,
    ) -> None:
        self.config = config
        self.state_dir = state_dir
        self.clock = clock
        self.source = source
        self.stats = Statistics(clock)
        self.events = EventHistory(clock)
        self.trusted_keys = self._load_keys()
        # keys that may authorize install-policy (and the installed policy at boot): the
        # operator's own, not the project key, whose private half is public
        self.install_keys = (
            self.trusted_keys if config.install_with_project_key else self.operator_keys
        )
        self.policy_info = self._load_boot_policy()
        self.store: Store | None = None
        self.subscriber: Subscriber | None = None
        self.reports: ReportBuilderLike | None = None
        self._report_builder_factory = report_builder or default_report_builder
        self.lifecycle = Lifecycle(clock, self, config.grace_period)
        self.lifecycle.reporting_interval = float(self.policy_info.policy.reporting_interval)
        self._writer: ConfigWriter | None = None
        self._storage: StorageMode = "on-disk"
        self.transport_mode = "off"  # from running; new reports get a channel for it

    # --- policy ---------------------------------------------------------------------------

    def _load_keys(self) -> list[TrustedKey]:
        self.operator_keys: list[TrustedKey] = []
        for path in self.config.trusted_keys:
            try:
                self.operator_keys.append(load_public_key(Path(path)))
            except PolicyError as exc:
                log.error("%%PA-3-KEY_REJECTED: %s", exc)
                self.events.add(Event.POLICY_REJECTED, 1, str(exc))
        return load_trusted_keys() + self.operator_keys

    def _load_boot_policy(self) -> PolicyInfo:
        now = self.clock.time()
        installed = self.state_dir / INSTALLED_POLICY
        if installed.exists():
            try:
                info = load_policy_file(installed, self.install_keys, now)
            except PolicyError as exc:
                self._reject(str(exc), str(installed))
            else:
                self._accept(info)
                log.warning(
                    "%%PA-4-POLICY_OVERRIDE: using the policy installed by install-policy (%s), "
                    "not --policy %s; delete that file to go back",
                    installed,
                    self.config.policy,
                )
                return info
        path = resolve_policy_path(self.config.policy)
        try:
            info = load_policy_file(path, self.trusted_keys, now)
        except PolicyError as exc:
            self._reject(str(exc), str(path))
            self.events.add(Event.CRASH, 0, "crash with builtin policy")
            log.error("%%PA-3-BUILTIN_POLICY: using the built-in policy: %s", exc)
            return builtin_policy_info(now, str(exc), str(path))
        self._accept(info)
        return info

    def _accept(self, info: PolicyInfo) -> None:
        policy = info.policy
        self.events.add(Event.POLICY_LOADED, 0, f"{policy.policy_version}/{policy.file_version}")
        log.info(
            "%%PA-6-POLICY_LOADED: policy %s file version %d from %s (%d sources, %d KPIs)",
            policy.policy_version,
            policy.file_version,
            info.file_path,
            len(policy.sources),
            len(policy.kpis),
        )

    def _reject(self, reason: str, path: str | None) -> None:
        self.events.add(Event.POLICY_REJECTED, 1, reason)
        log.error("%%PA-3-POLICY_REJECTED: %s: %s", path or "policy", reason)

    # --- registration and start -----------------------------------------------------------

    def register(self, registry: Registry) -> None:
        """Plug the engine's state, config listener and RPCs into the server's registry."""
        registry.add_state_provider(_StateProvider(self))
        registry.add_config_listener(_ConfigListener(self))
        registry.add_rpc(PA_NS, "generate-report", self.rpc_generate_report)
        registry.add_rpc(PA_NS, "clear-statistics", self.rpc_clear_statistics)
        registry.add_rpc(PA_NS, "install-policy", self.rpc_install_policy)

    async def start(self, writer: ConfigWriter | None) -> None:
        """Open the store as running says and start the lifecycle."""
        self._writer = writer
        running = writer.get_running(PA_NS, "product-analytics") if writer else None
        self._storage = _parse_storage(running)
        self.transport_mode = _parse_transport_mode(running)
        try:
            self.store = Store(self.stats, self.state_dir, self._storage)
            self.store.ensure_tables(self.policy_info.policy.tables())
            self.reports = self._report_builder_factory(self)
        except (OSError, sqlite3.Error, StoreError) as exc:
            self.lifecycle.start(None)
            self.lifecycle.fail(f"cannot open the data store: {exc}")
            return
        self.lifecycle.start(_parse_enabled(running))

    async def stop(self) -> None:
        await self.lifecycle.stop()
        if self.subscriber is not None:
            await self.subscriber.stop()
        if self.store is not None:
            self.store.close()
            self.store = None

    # --- lifecycle hooks ------------------------------------------------------------------

    def start_collection(self) -> None:
        if self.store is None:
            return
        if self.subscriber is None:
            self.subscriber = Subscriber(
                self.source,
                self.policy_info.policy,
                self.store,
                self.stats,
                self.events,
                self.clock,
            )
        self.subscriber.start()

    def stop_collection(self) -> None:
        if self.subscriber is not None:
            self.subscriber.cancel()

    def discard_collected(self) -> None:
        if self.store is not None:
            self.store.clear_collected()

    async def generate_report(self, period_start: float, period_end: float) -> int:
        if self.store is None or self.reports is None:
            raise StoreError("the data store is not open")
        if self.subscriber is not None and self.subscriber.running:
            await self.subscriber.refresh()
        report_id = self.reports.generate(period_start, period_end)
        self.events.add(Event.REPORT_GENERATED, 0, str(report_id))
        removed = self.store.prune(period_end)
        if removed:
            self.events.add(Event.DST_PRUNE, 0, f"{removed} rows")
        return report_id

    def write_enabled(self) -> None:
        if self._writer is None:
            raise RuntimeError("no configuration writer")
        config = etree.Element(NS + "product-analytics", nsmap={None: PA_NS})  # type: ignore[dict-item]
        etree.SubElement(config, NS + "enabled").text = "true"
        self._writer.merge_running(config, persist=True)

    def load_period_start(self) -> float | None:
        value = self.store.get_meta(PERIOD_START_KEY) if self.store is not None else None
        return float(value) if value is not None else None

    def save_period_start(self, value: float | None) -> None:
        if self.store is not None:
            self.store.set_meta(PERIOD_START_KEY, None if value is None else repr(value))

    # --- configuration --------------------------------------------------------------------

    def validate_config(self, new: etree._Element | None) -> None:
        """Refuse what the engine cannot do (the server has checked types already)."""
        storage = _parse_storage(new)
        if (
            storage == "on-disk"
            and self.state_dir.exists()
            and not os.access(self.state_dir, os.W_OK)
        ):
            raise RpcError(
                "operation-failed",
                f"on-disk storage needs a writable state directory ({self.state_dir})",
                path="/pa:product-analytics/pa:storage",
                path_ns={"pa": PA_NS},
            )

    def apply_config(self, new: etree._Element | None) -> None:
        """``enabled`` and ``storage`` take effect at once."""
        storage = _parse_storage(new)
        if self.store is not None and storage != self.store.mode:
            try:
                self.store.switch(storage)
            except StoreError as exc:
                log.error("%%PA-3-STORAGE_SWITCH_FAILED: %s", exc)
                self.events.add(Event.DST_STORAGE_SWITCH, 1, str(exc))
            else:
                log.info("%%PA-5-STORAGE: data store moved to %s", storage)
                self.events.add(Event.DST_STORAGE_SWITCH, 0, storage)
        self._storage = storage
        self.transport_mode = _parse_transport_mode(new)
        self.lifecycle.configure(_parse_enabled(new))

    # --- RPCs -----------------------------------------------------------------------------

    async def rpc_generate_report(
        self, context: RpcContext, request: etree._Element
    ) -> list[etree._Element]:
        """``generate-report``: end the current period now and build its report."""
        if self.lifecycle.state != "available":
            raise RpcError(
                "operation-failed",
                f"no report can be generated: product analytics is {self.lifecycle.state}"
                + (f" ({self.lifecycle.reason})" if self.lifecycle.reason else ""),
            )
        try:
            report_id = await self.lifecycle.end_period(self.clock.time(), raise_errors=True)
        except RpcError:
            raise
        except Exception as exc:
            raise RpcError("operation-failed", f"report generation failed: {exc}") from exc
        reply = etree.Element(NS + "report-id", nsmap={None: PA_NS})  # type: ignore[dict-item]
        reply.text = str(report_id)
        return [reply]

    async def rpc_clear_statistics(
        self, context: RpcContext, request: etree._Element
    ) -> list[etree._Element]:
        """``clear-statistics``: reset every counter and empty the event history."""
        self.stats.clear()
        self.events.clear()
        log.info("%%PA-6-STATS_CLEARED: statistics cleared by %s", context.username)
        return []

    async def rpc_install_policy(
        self, context: RpcContext, request: etree._Element
    ) -> list[etree._Element]:
        """``install-policy``: verify and validate, then persist and switch; else nothing."""
        text = _child_text(request, "policy")
        signature = _child_text(request, "signature")
        if text is None or signature is None:
            missing = "policy" if text is None else "signature"
            raise RpcError(
                "missing-element",
                f"install-policy needs '{missing}'",
                type="protocol",
                info={"bad-element": missing},
            )
        # The leaf text is the policy as signed; the XML layer gives us the characters, and
        # the signature covers their UTF-8 encoding.
        data = (request.find(NS + "policy").text or "").encode()  # type: ignore[union-attr]
        try:
            policy = verify_policy_bytes(data, signature, self.install_keys)
        except PolicyError as exc:
            self._reject(str(exc), None)
            self.policy_info = _with_rejection(self.policy_info, str(exc))
            raise RpcError(
                "invalid-value",
                f"policy refused: {exc}",
                path="/pa:install-policy/pa:policy",
                path_ns={"pa": PA_NS},
            ) from exc
        target = self.state_dir / INSTALLED_POLICY
        files = (target, signature_path(target))
        previous = [path.read_bytes() if path.exists() else None for path in files]
        try:
            write_atomically(target, data, mode=0o644)
            write_atomically(files[1], (signature.strip() + "\n").encode(), mode=0o644)
        except OSError as exc:
            _restore(files, previous)
            raise RpcError("operation-failed", f"cannot store the policy: {exc}") from exc
        info = PolicyInfo(
            policy=policy,
            source="file",
            file_path=str(target),
            signature=signature.strip(),
            signature_valid=True,
            loaded_at=self.clock.time(),
            text=data,
        )
        before = self.policy_info
        try:
            self.switch_policy(info)
        except Exception as exc:
            # all or nothing: the old policy stays in use and on disk
            log.exception("install-policy: switching to the new policy failed")
            _restore(files, previous)
            self.switch_policy(before)
            raise RpcError("operation-failed", f"cannot switch to the policy: {exc}") from exc
        log.info("%%PA-5-POLICY_INSTALLED: installed by %s", context.username)
        version = etree.Element(NS + "policy-version", nsmap={None: PA_NS})  # type: ignore[dict-item]
        version.text = policy.policy_version
        file_version = etree.Element(NS + "file-version", nsmap={None: PA_NS})  # type: ignore[dict-item]
        file_version.text = str(policy.file_version)
        return [version, file_version]

    def switch_policy(self, info: PolicyInfo) -> None:
        """Put a verified policy in use: new tables, new reads, new interval."""
        collecting = self.subscriber is not None and self.subscriber.running
        if self.subscriber is not None:
            self.subscriber.cancel()
            self.subscriber = None
        self.policy_info = info
        self._accept(info)
        if self.store is not None:
            self.store.ensure_tables(info.policy.tables())
            self.reports = self._report_builder_factory(self)
        self.lifecycle.set_reporting_interval(float(info.policy.reporting_interval))
        if collecting:
            self.start_collection()

    # --- state ----------------------------------------------------------------------------

    def state_xml(self, selection: etree._Element | None) -> etree._Element | None:
        """``<product-analytics>`` with the containers the selection asks for."""
        wanted = _wanted(selection)
        if not wanted:
            return None
        root = etree.Element(NS + "product-analytics", nsmap={None: PA_NS})  # type: ignore[dict-item]
        if "status" in wanted:
            root.append(self.status_xml())
        if "policy" in wanted:
            root.append(self.policy_xml())
        if "reports" in wanted and self.reports is not None:
            sub = None
            if selection is not None:
                sub = selection.find(NS + "reports")
            reports = self.reports.reports_xml(sub)
            if reports is not None:
                root.append(reports)
        if "statistics" in wanted:
            root.append(self.stats.to_xml(self.events))
        return root

    def status_xml(self) -> etree._Element:
        status = etree.Element(NS + "status")
        lc = self.lifecycle
        _leaf(status, "state", lc.state)
        if lc.state == "not-available":
            _leaf(status, "not-available-reason", lc.reason or "unknown")
        remaining = lc.grace_remaining
        if remaining is not None and lc.grace_end is not None:
            _leaf(status, "grace-period-end", date_and_time(lc.grace_end))
            _leaf(status, "grace-period-remaining", int(remaining))
        if lc.state == "available" and lc.period_start is not None:
            _leaf(status, "period-start", date_and_time(lc.period_start))
            _leaf(status, "next-report", date_and_time(lc.period_start + lc.reporting_interval))
        _leaf(status, "report-count", self.store.report_count() if self.store is not None else 0)
        return status

    def policy_xml(self) -> etree._Element:
        info = self.policy_info
        node = etree.Element(NS + "policy")
        _leaf(node, "source", info.source)
        _leaf(node, "policy-version", info.policy.policy_version)
        _leaf(node, "file-version", info.policy.file_version)
        _leaf(node, "file-path", info.file_path)
        _leaf(node, "signature", info.signature)
        _leaf(node, "signature-valid", info.signature_valid)
        _leaf(node, "reporting-interval", info.policy.reporting_interval)
        _leaf(node, "loaded-at", date_and_time(info.loaded_at))
        _leaf(node, "rejection-reason", info.rejection_reason)
        return node


def _with_rejection(info: PolicyInfo, reason: str) -> PolicyInfo:
    from dataclasses import replace

    return replace(info, rejection_reason=reason)


def default_report_builder(engine: Engine) -> ReportBuilderLike:
    """The report builder of ``agent.engine.reports`` over this engine's parts."""
    from agent.engine.reports import ReportBuilder

    return ReportBuilder(engine)
