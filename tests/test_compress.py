"""Bounded decoding of upstream bodies: every coding stops at the cap, bad input is an error."""

from __future__ import annotations

import gzip
import zlib

import brotli
import pytest

from feeds.compress import COMPRESSORS, BoundedDecoder, DecodeError, OverCap

TEXT = b"<rss>" + b"berita " * 5000 + b"</rss>"


def raw_deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


@pytest.mark.parametrize(("coding", "packed"), [
    (None, TEXT), ("identity", TEXT), ("gzip", gzip.compress(TEXT)),
    ("x-gzip", gzip.compress(TEXT)), ("deflate", zlib.compress(TEXT)),
    ("deflate", raw_deflate(TEXT)), ("br", brotli.compress(TEXT)), ("GZIP ", gzip.compress(TEXT)),
])
def test_each_coding_decodes_in_small_pieces(coding: str | None, packed: bytes) -> None:
    decoder = BoundedDecoder(coding, cap=len(TEXT))
    out = b"".join(decoder.decode(packed[i:i + 7]) for i in range(0, len(packed), 7))
    assert out == TEXT


@pytest.mark.parametrize(("coding", "packed"), [
    ("identity", TEXT), ("gzip", gzip.compress(TEXT)), ("deflate", zlib.compress(TEXT)),
    ("br", brotli.compress(TEXT)),
])
def test_one_byte_over_the_cap_is_refused_without_inflating_further(
    coding: str, packed: bytes
) -> None:
    decoder = BoundedDecoder(coding, cap=len(TEXT) - 1)
    with pytest.raises(OverCap):
        decoder.decode(packed)
    assert decoder.size <= len(TEXT)  # it stopped at cap + 1, not after the whole body


def test_a_bomb_never_holds_more_than_the_cap() -> None:
    bomb = brotli.compress(bytes(64 * 2**20), quality=11)  # a few hundred bytes
    decoder = BoundedDecoder("br", cap=2**20)
    with pytest.raises(OverCap):
        decoder.decode(bomb)
    # brotli's output limit is soft: it stops growing its buffer past the limit, at most one
    # growth step later (64 MiB inflated would be the unbounded case).
    assert decoder.size <= 3 * 2**20


@pytest.mark.parametrize(("coding", "problem"), [
    ("gzip, br", "more than one content coding"), ("zstd", "unsupported content coding"),
    ("compress", "unsupported content coding"),
])
def test_codings_it_cannot_undo_are_refused(coding: str, problem: str) -> None:
    with pytest.raises(DecodeError, match=problem):
        BoundedDecoder(coding, cap=100)


@pytest.mark.parametrize("coding", ["gzip", "br"])
def test_garbage_is_a_decode_error(coding: str) -> None:
    with pytest.raises(DecodeError, match=f"cannot decode the {coding} body"):
        BoundedDecoder(coding, cap=100).decode(b"this is not compressed at all")


def test_precompressed_variants_round_trip() -> None:
    assert gzip.decompress(COMPRESSORS[".gz"](TEXT)) == TEXT
    assert brotli.decompress(COMPRESSORS[".br"](TEXT)) == TEXT
