"""RFC 6242 message framing: end-of-message (``]]>]]>``, base:1.0) and chunked (base:1.1).

Written by hand because no maintained library offers an incremental, strict framer for the
server side (ncclient's is client-side and tied to its threads).  ``FrameDecoder`` is fed
whatever bytes the transport delivers and returns the complete messages; any violation of
the chunked grammar raises ``FramingError`` and the session must be closed (RFC 6242 §4.2).

A message longer than the size cap is not kept: its bytes are dropped as they arrive, and
once its end has been seen ``next_message`` raises ``MessageTooLarge``, after which the
decoder goes on with the next message.  The session answers ``too-big`` and keeps serving;
memory stays bounded whatever the peer sends.
"""

from __future__ import annotations

EOM = b"]]>]]>"
MAX_CHUNK_SIZE = 4294967295  # RFC 6242 §4.2: chunk-size is at most 4294967295
_MAX_HEADER_DIGITS = 10


class FramingError(Exception):
    """The peer broke the framing rules; the session cannot continue."""


class MessageTooLarge(Exception):
    """A message exceeded the configured size cap; it has been skipped whole (not fatal)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"message larger than {limit} bytes")
        self.limit = limit


def encode_eom(message: bytes) -> bytes:
    """Frame ``message`` with the base:1.0 end-of-message marker."""
    return message + EOM


def encode_chunked(message: bytes, max_chunk: int = 1 << 20) -> bytes:
    """Frame ``message`` as base:1.1 chunks of at most ``max_chunk`` bytes."""
    parts: list[bytes] = []
    for start in range(0, len(message), max_chunk):
        chunk = message[start : start + max_chunk]
        parts.append(b"\n#%d\n" % len(chunk))
        parts.append(chunk)
    parts.append(b"\n##\n")
    return b"".join(parts)


class FrameDecoder:
    """Incremental decoder for one direction of a NETCONF session.

    Starts in end-of-message mode (the hello is always EOM-framed); ``use_chunked()``
    switches to chunked framing once both peers advertised base:1.1.
    """

    def __init__(self, max_message_size: int) -> None:
        self.max_message_size = max_message_size
        self.chunked = False
        self._buffer = bytearray()
        # chunked-mode state
        self._message = bytearray()
        self._chunk_remaining = 0  # bytes of chunk data still expected
        self._skipping = False  # inside a message over the cap: its bytes are dropped

    def use_chunked(self) -> None:
        """Switch to chunked framing for every following message."""
        self.chunked = True

    @property
    def pending(self) -> int:
        """Bytes received that are not part of a complete message yet."""
        return len(self._buffer) + len(self._message)

    def feed(self, data: bytes) -> None:
        """Add received bytes; take complete messages with ``next_message`` (call it after
        every feed: it also drops the bytes of a message over the cap)."""
        self._buffer += data

    def next_message(self) -> bytes | None:
        """The next complete message, or None until more bytes arrive.

        Call it until it returns None; the framing may be switched between two calls (after
        the hello) and the bytes already buffered are then decoded with the new framing.
        Raises ``MessageTooLarge`` once a message over the cap has been skipped to its end.
        """
        return self._next_chunked() if self.chunked else self._next_eom()

    def _too_large(self) -> MessageTooLarge:
        self._skipping = False
        return MessageTooLarge(self.max_message_size)

    def _next_eom(self) -> bytes | None:
        buf = self._buffer
        end = buf.find(EOM)
        if end < 0:
            if self._skipping or len(buf) > self.max_message_size + len(EOM):
                # over the cap: drop what came, but the marker's first bytes may be here
                self._skipping = True
                del buf[: -(len(EOM) - 1)]
            return None
        if self._skipping or end > self.max_message_size:
            del buf[: end + len(EOM)]
            raise self._too_large()
        message = bytes(buf[:end])
        del buf[: end + len(EOM)]
        return message

    def _next_chunked(self) -> bytes | None:
        buf = self._buffer
        while True:
            if self._chunk_remaining:
                take = min(self._chunk_remaining, len(buf))
                if not take:
                    return None
                if not self._skipping:
                    self._message += buf[:take]
                del buf[:take]
                self._chunk_remaining -= take
                continue
            # expecting a header: "\n#" followed by a size and "\n", or by "#\n" (end)
            if len(buf) < 3:
                if buf and not b"\n#".startswith(bytes(buf[:2])):
                    raise FramingError(f"bad chunk header start {bytes(buf[:2])!r}")
                return None
            if buf[0:2] != b"\n#":
                raise FramingError(f"bad chunk header start {bytes(buf[:2])!r}")
            if buf[2:3] == b"#":
                if len(buf) < 4:
                    return None
                if buf[3:4] != b"\n":
                    raise FramingError("bad end-of-chunks marker")
                del buf[:4]
                if self._skipping:
                    raise self._too_large()
                if not self._message:
                    raise FramingError("end-of-chunks marker without any chunk")
                message = bytes(self._message)
                self._message.clear()
                return message
            newline = buf.find(b"\n", 2, 2 + _MAX_HEADER_DIGITS + 1)
            if newline < 0:
                if len(buf) > 2 + _MAX_HEADER_DIGITS:
                    raise FramingError("chunk size too long")
                if not bytes(buf[2:]).isdigit():
                    raise FramingError("chunk size is not a number")
                return None
            digits = bytes(buf[2:newline])
            # chunk-size = %x31-39 0*9DIGIT (no sign, no leading zero, not empty)
            if not digits.isdigit() or digits[:1] == b"0":
                raise FramingError(f"bad chunk size {digits!r}")
            size = int(digits)
            if size > MAX_CHUNK_SIZE:
                raise FramingError(f"chunk size {size} exceeds {MAX_CHUNK_SIZE}")
            if not self._skipping and len(self._message) + size > self.max_message_size:
                self._skipping = True  # the chunks go on being parsed, their data dropped
                self._message.clear()
            del buf[: newline + 1]
            self._chunk_remaining = size
