# SPDX-License-Identifier: Apache-2.0
"""How a pushed layer is gzipped: deflated when it compresses, stored when it does not,
always valid gzip and the same bytes for the same layer."""

from __future__ import annotations

import gzip
import hashlib

from dockyard.distribution.push import CHUNK, start_gzip


def _push_bytes(data: bytes) -> bytes:
    chunks = [data[i:i + CHUNK] for i in range(0, len(data), CHUNK)] or [b""]
    compressor, out = start_gzip(chunks[0])
    return b"".join([out, *(compressor.compress(c) for c in chunks[1:]), compressor.flush()])


def _random(n: int) -> bytes:
    return b"".join(hashlib.sha256(i.to_bytes(8, "big")).digest() for i in range(n // 32))


def test_compressible_layers_are_deflated_and_random_ones_stored():
    text = b"".join(b"line %d of a config file\n" % i for i in range(200_000))
    noise = _random(3 << 20)
    for data in (text, noise, b"", b"tiny"):
        blob = _push_bytes(data)
        assert gzip.decompress(blob) == data
        assert _push_bytes(data) == blob  # deterministic: the digest is the layer's
    assert len(_push_bytes(text)) < len(text) / 5
    stored = _push_bytes(noise)
    assert len(noise) < len(stored) < len(noise) * 1.001  # stored blocks: a few bytes each
