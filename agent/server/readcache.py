"""A small cache of serialised ``<data>`` reply bodies of get and get-config.

A get-config reply depends only on the datastore's content, the filter and the with-defaults
mode; a get reply also on the state of the providers the filter selects.  Datastore content
is never changed in place (edits are made on a copy that is swapped in, which bumps the
datastore's generation), so ``(generation, filter, mode)`` identifies a get-config reply.  A
state provider takes part in caching only if it says when its state is unchanged: an optional
``state_token(request)`` method returning a hashable value that is equal for equal state, or
None when the state may differ (then the reply is not cached).  Providers without the method
are never cached.

Entries are evicted least recently used first, bounded by count and by total bytes
(``LruCache``, which the request memo of ``requestmemo`` uses as well).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from lxml import etree

DEFAULT_MAX_ENTRIES = 64
DEFAULT_MAX_BYTES = 16 * 1024 * 1024

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LruCache(Generic[K, V]):
    """Values by key, least recently used out first, bounded by count and by the bytes
    ``size`` says each value takes; a value larger than a quarter of the byte budget is not
    kept.  ``get`` counts hits and misses."""

    def __init__(self, max_entries: int, max_bytes: int, size: Callable[[V], int]) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._size = size
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._bytes = 0
        self.hits = 0
        self.misses = 0

    def get(self, key: K) -> V | None:
        """The value stored under ``key``, or None."""
        value = self._entries.get(key)
        if value is None:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return value

    def put(self, key: K, value: V) -> None:
        """Store ``value`` (not kept if larger than a quarter of the byte budget)."""
        size = self._size(value)
        if size > self.max_bytes // 4:
            return
        self.discard(key)
        self._entries[key] = value
        self._bytes += size
        while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self._bytes -= self._size(evicted)

    def discard(self, key: K) -> None:
        """Forget ``key`` if it is stored."""
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= self._size(old)

    def clear(self) -> None:
        """Forget everything."""
        self._entries.clear()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)


class ReplyCache(LruCache[Hashable, bytes]):
    """Serialised reply bodies by key (see the module docstring)."""

    def __init__(
        self, max_entries: int = DEFAULT_MAX_ENTRIES, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> None:
        super().__init__(max_entries, max_bytes, len)


class Memo(Generic[V]):
    """A bounded memo of values derived from request parameters alone (parsed filters):
    when full it starts over, which keeps it simple and bounded."""

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._values: dict[bytes, V] = {}

    def get(self, key: bytes) -> V | None:
        """The value stored under ``key``, or None."""
        return self._values.get(key)

    def put(self, key: bytes, value: V) -> None:
        """Store ``value`` under ``key``."""
        if len(self._values) >= self.max_entries:
            self._values.clear()
        self._values[key] = value


def parameter_key(op: etree._Element, tag: str) -> bytes:
    """The parameters ``tag`` of ``op`` as they affect the reply: their serialisation with
    every namespace in scope (prefixes in XPath and content matches resolve through them)."""
    return b"".join(etree.tostring(e, with_tail=False) for e in op.iterchildren(tag))
