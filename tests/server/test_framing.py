"""RFC 6242 framing: end-of-message and chunked decoders, strictness, fuzzing."""

from __future__ import annotations

import contextlib
import random

import pytest

from agent.server.framing import (
    FrameDecoder,
    FramingError,
    MessageTooLarge,
    encode_chunked,
    encode_eom,
)


def decode_all(decoder: FrameDecoder, data: bytes) -> list[bytes]:
    decoder.feed(data)
    messages = []
    while (message := decoder.next_message()) is not None:
        messages.append(message)
    return messages


def test_eom_single_and_pipelined() -> None:
    decoder = FrameDecoder(1000)
    assert decode_all(decoder, b"<a/>]]>]]><b/>]]>]]><c") == [b"<a/>", b"<b/>"]
    assert decode_all(decoder, b"/>]]>]]>") == [b"<c/>"]


def test_eom_marker_split_across_reads() -> None:
    decoder = FrameDecoder(1000)
    assert decode_all(decoder, b"<a/>]]>]") == []
    assert decode_all(decoder, b"]>]]>") == [b"<a/>"]


def test_chunked_rfc_example() -> None:
    # RFC 6242 §4.2 example: one message in two chunks
    decoder = FrameDecoder(1000)
    decoder.use_chunked()
    data = b'\n#4\n<rpc\n#18\n message-id="102"\n\n##\n'
    assert decode_all(decoder, data) == [b'<rpc message-id="102"\n']


def test_switch_after_hello_with_pipelined_chunked_data() -> None:
    decoder = FrameDecoder(1000)
    decoder.feed(b"<hello/>]]>]]>\n#3\n<a/\n#1\n>\n##\n")
    assert decoder.next_message() == b"<hello/>"
    decoder.use_chunked()
    assert decoder.next_message() == b"<a/>"
    assert decoder.next_message() is None


@pytest.mark.parametrize(
    "data",
    [
        b"#4\n<rpc\n##\n",  # missing leading LF
        b"\n#04\n<rpc\n##\n",  # leading zero
        b"\n#0\n\n##\n",  # zero size
        b"\n#-4\n<rpc\n##\n",  # sign
        b"\n#x\n",  # not a number
        b"\n# 4\n<rpc\n##\n",  # space
        b"\n#4294967296\n",  # larger than the RFC maximum
        b"\n#12345678901\n",  # too many digits
        b"\n##\n",  # end marker without a chunk
        b"\n#4\n<rpc\n##x",  # bad end marker
        b"\n#4\n<rpcX#4\n",  # chunk not followed by LF#
        b"<rpc/>]]>]]>",  # EOM framing after switching to chunked
    ],
)
def test_chunked_rejects_bad_framing(data: bytes) -> None:
    decoder = FrameDecoder(1 << 40)
    decoder.use_chunked()
    with pytest.raises(FramingError):
        decode_all(decoder, data)


def test_size_caps_skip_the_message_and_go_on() -> None:
    eom = FrameDecoder(10)
    assert decode_all(eom, b"x" * 30) == []  # dropped as it comes
    assert eom.pending <= 5  # only what may be the start of the marker is kept
    assert decode_all(eom, b"y" * 1000 + b"]]>]") == []
    with pytest.raises(MessageTooLarge):
        decode_all(eom, b"]><ok/>]]>]]>")
    assert decode_all(eom, b"") == [b"<ok/>"]
    exact = FrameDecoder(10)
    with pytest.raises(MessageTooLarge):
        decode_all(exact, b"x" * 11 + b"]]>]]>")
    assert decode_all(exact, b"x" * 10 + b"]]>]]>") == [b"x" * 10]

    chunked = FrameDecoder(10)
    chunked.use_chunked()
    assert decode_all(chunked, b"\n#6\n123456\n#6\n12") == []
    assert chunked.pending == 0  # the oversize message's data is not kept
    assert decode_all(chunked, b"3456\n#100000\n" + b"z" * 5000) == []
    with pytest.raises(MessageTooLarge):
        decode_all(chunked, b"z" * (100000 - 5000) + b"\n##\n")
    assert decode_all(chunked, b"\n#5\n<ok/>\n##\n") == [b"<ok/>"]


def test_encoders_round_trip() -> None:
    message = b"<rpc-reply>" + b"x" * 5000 + b"</rpc-reply>"
    decoder = FrameDecoder(1 << 20)
    assert decode_all(decoder, encode_eom(message)) == [message]
    decoder.use_chunked()
    assert decode_all(decoder, encode_chunked(message, max_chunk=1000)) == [message]


def test_fuzz_random_split_points_decode_identically() -> None:
    rng = random.Random(6242)
    for _ in range(200):
        messages = [
            bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300))) for _ in range(3)
        ]
        stream = b"".join(encode_chunked(m, max_chunk=rng.randrange(1, 50)) for m in messages)
        decoder = FrameDecoder(1 << 20)
        decoder.use_chunked()
        got: list[bytes] = []
        position = 0
        while position < len(stream):
            step = rng.randrange(1, 40)
            got.extend(decode_all(decoder, stream[position : position + step]))
            position += step
        assert got == messages
        assert decoder.pending == 0


def test_fuzz_garbage_never_crashes_otherwise() -> None:
    # random bytes either decode or raise FramingError: nothing else escapes the decoder
    rng = random.Random(4242)
    alphabet = b"\n#0123456789]>x"
    for _ in range(2000):
        data = bytes(rng.choice(alphabet) for _ in range(rng.randrange(1, 60)))
        decoder = FrameDecoder(10_000)
        decoder.use_chunked()
        with contextlib.suppress(FramingError):
            decode_all(decoder, data)
