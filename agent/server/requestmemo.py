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
- the message must be in UTF-8 or ASCII (it starts with ``<``, and an XML declaration names
  no other encoding): in UTF-16 or EBCDIC the bytes ``message-id`` may be part of anything;
- ``message-id`` must occur exactly once in the message and its value must need no XML
  escaping, so the cut-out is the ``<rpc>`` attribute and nothing else;
- only replies of operations that set ``valid_while`` are kept (successful reads); an error
  reply, or an operation with effects, is never replayed;
- the user is part of the key: a later access control may answer users differently.

Entries are evicted least recently used first, bounded by count and by the bytes of the
replies they hold; a reply larger than a quarter of the byte budget is not kept (its body
stays in the reply cache).  An entry whose condition fails (or raises) is dropped when it
is next looked up, and the request takes the normal path.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import attrgetter

from agent.server.readcache import LruCache

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 4096
DEFAULT_MAX_ENTRIES = 64
DEFAULT_MAX_BYTES = 4 * 1024 * 1024
_ID_ATTRIBUTE = b"message-id"
# A value that stands for itself in an XML attribute, quoted either way.
_PLAIN_VALUE = re.compile(rb"[A-Za-z0-9_.:/+@-]{1,256}")
_DECLARED_ENCODING = re.compile(rb"""encoding\s*=\s*["']([^"']*)["']""")
_BYTE_FOR_BYTE = (b"utf-8", b"utf8", b"us-ascii", b"ascii")

RequestKey = tuple[str, bytes, bytes]


@dataclass(frozen=True)
class Request:
    """A request the memo can recognise: the user and its bytes around the message-id value
    (``key``), and that value."""

    key: RequestKey
    message_id: bytes


@dataclass(frozen=True)
class _Entry:
    before_id: bytes  # the reply up to the message-id value
    after_id: bytes  # the rest of the reply's start tag
    bodies: Sequence[bytes]  # then the reply's children and "</rpc-reply>"
    valid_while: Callable[[], bool]
    size: int  # bytes of the reply


def split_message_id(message: bytes) -> tuple[bytes, bytes, bytes] | None:
    """``(before, message-id value, after)`` if the message qualifies (see the module
    docstring), else None."""
    if len(message) > MAX_REQUEST_BYTES or not message.startswith(b"<") or message[1:2] == b"\0":
        return None  # too long, or not UTF-8 ("<\0" starts UTF-16LE and UTF-32LE)
    if message.startswith(b"<?xml"):
        declared = _DECLARED_ENCODING.search(message, 0, max(message.find(b"?>"), 0))
        if declared is not None and declared.group(1).lower() not in _BYTE_FOR_BYTE:
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


def recognise(username: str, message: bytes) -> Request | None:
    """``message`` of ``username`` as the memo knows requests, or None if it does not
    qualify (see the module docstring)."""
    parts = split_message_id(message)
    if parts is None:
        return None
    before, value, after = parts
    return Request((username, before, after), value)


class RequestMemo:
    """Replies by request, for requests that differ only in their message-id."""

    def __init__(
        self, max_entries: int = DEFAULT_MAX_ENTRIES, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> None:
        self._entries: LruCache[RequestKey, _Entry] = LruCache(
            max_entries, max_bytes, attrgetter("size")
        )
        self.hits = 0  # requests answered (entries found but no longer valid not counted)

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()

    def reply(self, request: Request) -> bytes | None:
        """The reply to ``request`` if it repeats a remembered one whose reply still
        holds, else None."""
        entry = self._entries.get(request.key)
        if entry is None:
            return None
        try:
            valid = entry.valid_while()
        except Exception:  # e.g. a provider's state_token failing: the normal path reports it
            log.debug("request memo: condition failed", exc_info=True)
            valid = False
        if not valid:
            self._entries.discard(request.key)
            return None
        self.hits += 1
        return b"".join([entry.before_id, request.message_id, entry.after_id, *entry.bodies])

    def remember(
        self,
        request: Request,
        start: bytes,
        bodies: Sequence[bytes],
        valid_while: Callable[[], bool],
    ) -> None:
        """Keep the reply ``start + bodies`` to ``request``; ``start`` is the reply's XML
        declaration and ``<rpc-reply>`` start tag, which echoes the message-id."""
        value = request.message_id
        echoed = b'message-id="' + value + b'"'
        at = start.find(echoed)
        if at < 0 or start.count(_ID_ATTRIBUTE) != 1:
            return
        cut = at + len(echoed) - 1 - len(value)
        size = len(start) + sum(map(len, bodies))
        entry = _Entry(start[:cut], start[cut + len(value) :], tuple(bodies), valid_while, size)
        self._entries.put(request.key, entry)
