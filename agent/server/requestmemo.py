"""Whole replies to repeated read requests, found without parsing the request again.

Controllers and monitoring scripts poll: the same ``<get-config>`` or ``<get>`` arrives again
and again, byte for byte, but for its message-id.  For such a request the server would parse
the XML, dispatch, find the body in the reply cache (``readcache``) and build the reply
around it, every time; parsing alone costs more than the rest.  This memo maps the request's
bytes, with the message-id value cut out, to the reply built for it, and answers a repeat
with that reply and the new message-id, as long as the operation's own condition holds
(``OpContext.valid_while``: the datastore generation, the state providers' tokens).

Only what is certainly the same request is recognised:
- the bytes must be equal apart from the message-id value (another prefix, attribute order,
  whitespace or encoding makes a different entry, never a wrong one);
- ``message-id`` must occur exactly once in the message and its value must need no XML
  escaping, so the cut-out is the ``<rpc>`` attribute and nothing else;
- only replies of operations that set ``valid_while`` are kept (successful reads); an error
  reply, or an operation with effects, is never replayed;
- the user is part of the key: a later access control may answer users differently.

Entries are evicted least recently used first, bounded by count; a reply larger than
``MAX_REPLY_BYTES`` is not kept (its body stays in the reply cache).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

MAX_REQUEST_BYTES = 4096
MAX_REPLY_BYTES = 1 << 20
DEFAULT_MAX_ENTRIES = 64
_ID_ATTRIBUTE = b"message-id"
# A value that stands for itself in an XML attribute, quoted either way.
_PLAIN_VALUE = re.compile(rb"[A-Za-z0-9_.:/+@-]{1,256}")

RequestKey = tuple[str, bytes, bytes]


@dataclass(frozen=True)
class _Entry:
    before_id: bytes  # the reply up to the message-id value
    after_id: bytes  # the rest of the reply's start tag
    bodies: Sequence[bytes]  # then the reply's children and "</rpc-reply>"
    valid_while: Callable[[], bool]


def split_message_id(message: bytes) -> tuple[bytes, bytes, bytes] | None:
    """``(before, message-id value, after)`` if the message qualifies (see the module
    docstring), else None."""
    if len(message) > MAX_REQUEST_BYTES:
        return None
    at = message.find(_ID_ATTRIBUTE)
    if at < 0 or message.find(_ID_ATTRIBUTE, at + len(_ID_ATTRIBUTE)) >= 0:
        return None
    start = at + len(_ID_ATTRIBUTE)
    if message[start : start + 1] != b"=":
        return None
    quote = message[start + 1 : start + 2]
    if quote not in (b'"', b"'"):
        return None
    end = message.find(quote, start + 2)
    value = message[start + 2 : end]
    if end < 0 or not _PLAIN_VALUE.fullmatch(value):
        return None
    return message[: start + 2], value, message[end:]


class RequestMemo:
    """Replies by request, for requests that differ only in their message-id."""

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[RequestKey, _Entry] = OrderedDict()
        self.hits = 0

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()

    def reply(self, username: str, message: bytes) -> bytes | None:
        """The reply to ``message`` if it repeats a remembered request whose reply still
        holds, else None."""
        parts = split_message_id(message)
        if parts is None:
            return None
        before, value, after = parts
        key = (username, before, after)
        entry = self._entries.get(key)
        if entry is None:
            return None
        if not entry.valid_while():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return b"".join([entry.before_id, value, entry.after_id, *entry.bodies])

    def remember(
        self,
        username: str,
        message: bytes,
        start: bytes,
        bodies: Sequence[bytes],
        valid_while: Callable[[], bool],
    ) -> None:
        """Keep the reply ``start + bodies`` to ``message``; ``start`` is the reply's XML
        declaration and ``<rpc-reply>`` start tag, which echoes the message-id."""
        parts = split_message_id(message)
        if parts is None or sum(map(len, bodies)) > MAX_REPLY_BYTES:
            return
        before, value, after = parts
        echoed = b'message-id="' + value + b'"'
        at = start.find(echoed)
        if at < 0 or start.count(_ID_ATTRIBUTE) != 1:
            return
        cut = at + len(echoed) - 1 - len(value)
        entry = _Entry(start[:cut], start[cut + len(value) :], tuple(bodies), valid_while)
        key = (username, before, after)
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
