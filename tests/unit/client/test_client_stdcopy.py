# SPDX-License-Identifier: Apache-2.0
"""The stdcopy demultiplexer: 8-byte headers, frames split anywhere, bad streams rejected."""

import struct

import pytest

from dockyard.client.stdcopy import STDERR, STDOUT, Demuxer, FramingError, demux, frame


def test_frame_layout_is_dockers():
    assert frame(STDOUT, b"hi") == b"\x01\x00\x00\x00\x00\x00\x00\x02hi"
    assert frame(STDERR, b"x" * 300)[:8] == struct.pack(">BxxxL", 2, 300)


def test_demux_whole_frames():
    data = frame(STDOUT, b"out\n") + frame(STDERR, b"err\n") + frame(STDOUT, b"")
    assert list(demux([data])) == [(1, b"out\n"), (2, b"err\n"), (1, b"")]


def test_frames_split_at_every_byte():
    data = frame(STDOUT, b"hello") + frame(STDERR, b"world!") + frame(STDOUT, b"\x00\xff")
    pieces = [data[i : i + 1] for i in range(len(data))]
    assert list(demux(pieces)) == [(1, b"hello"), (2, b"world!"), (1, b"\x00\xff")]


def test_incremental_feed_keeps_partial_frame():
    d = Demuxer()
    data = frame(STDOUT, b"abcdef")
    assert d.feed(data[:5]) == []
    assert d.feed(data[5:10]) == []
    assert d.pending == 10
    assert d.feed(data[10:]) == [(1, b"abcdef")]
    assert d.pending == 0


def test_truncated_stream_is_an_error():
    with pytest.raises(FramingError):
        list(demux([frame(STDOUT, b"abcdef")[:-1]]))


def test_tty_bytes_are_not_frames():
    with pytest.raises(FramingError):
        Demuxer().feed(b"hello, world\n")
