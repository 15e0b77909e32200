# SPDX-License-Identifier: Apache-2.0
"""read_log over files in conmon's k8s-file format (written here by hand, so no root)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from dockyard.runtime import LogRecord, read_log

pytestmark = pytest.mark.timeout(30)

T0 = "2024-05-01T12:00:00.000000001+00:00"
T1 = "2024-05-01T12:00:01.500000000+00:00"
T2 = "2024-05-01T12:00:02.000000000+00:00"
EPOCH_T1 = 1714564801.5


def write(path: Path, lines: list[str], mode: str = "w") -> None:
    with open(path, mode) as f:
        f.write("".join(line + "\n" for line in lines))


def collect(path: Path, **kwargs) -> list[LogRecord]:
    async def go() -> list[LogRecord]:
        return [r async for r in read_log(path, **kwargs)]
    return asyncio.run(go())


def test_full_and_partial_lines_are_joined(tmp_path: Path) -> None:
    log = tmp_path / "ctr.log"
    write(log, [
        f"{T0} stdout P hel",
        f"{T1} stderr F an error",
        f"{T1} stdout P lo wor",
        f"{T2} stdout F ld",
        f"{T2} stdout F ",
    ])
    records = collect(log)
    assert [(r.stream, r.data) for r in records] == [
        ("stderr", b"an error\n"),
        ("stdout", b"hello world\n"),
        ("stdout", b"\n"),
    ]
    # A joined line keeps the time of its first piece.
    assert records[1].time == "2024-05-01T12:00:00.000000001Z"


def test_times_are_converted_to_utc(tmp_path: Path) -> None:
    log = tmp_path / "ctr.log"
    write(log, ["2024-05-01T14:00:00.123456789+02:00 stdout F x",
                "2024-05-01T06:30:00.5-05:30 stdout F y"])
    assert [r.time for r in collect(log)] == ["2024-05-01T12:00:00.123456789Z",
                                              "2024-05-01T12:00:00.500000000Z"]


def test_trailing_partial_line_is_returned_without_newline(tmp_path: Path) -> None:
    log = tmp_path / "ctr.log"
    write(log, [f"{T0} stdout F a", f"{T1} stdout P no newline"])
    assert [r.data for r in collect(log)] == [b"a\n", b"no newline"]


def test_tail_counts_whole_lines(tmp_path: Path) -> None:
    log = tmp_path / "ctr.log"
    write(log, [f"{T0} stdout F one", f"{T0} stdout P tw", f"{T1} stdout P o", f"{T1} stdout F !",
                f"{T2} stderr F three"])
    assert [r.data for r in collect(log, tail=2)] == [b"two!\n", b"three\n"]
    assert [r.data for r in collect(log, tail=1)] == [b"three\n"]
    assert collect(log, tail=0) == []
    assert len(collect(log, tail=10)) == 3
    # An unfinished last line counts as one.
    write(log, [f"{T2} stdout P tail"], mode="a")
    assert [r.data for r in collect(log, tail=2)] == [b"three\n", b"tail"]


def test_tail_over_many_blocks(tmp_path: Path) -> None:
    log = tmp_path / "ctr.log"
    write(log, [f"{T0} stdout F line {i:06d} " + "x" * 50 for i in range(20000)])
    records = collect(log, tail=12345)
    assert len(records) == 12345
    assert records[0].data.startswith(b"line 007655 ")
    assert records[-1].data.startswith(b"line 019999 ")


def test_since_and_until(tmp_path: Path) -> None:
    log = tmp_path / "ctr.log"
    write(log, [f"{T0} stdout F a", f"{T1} stdout F b", f"{T2} stdout F c"])
    assert [r.data for r in collect(log, since=EPOCH_T1)] == [b"b\n", b"c\n"]
    assert [r.data for r in collect(log, until=EPOCH_T1)] == [b"a\n", b"b\n"]
    assert [r.data for r in collect(log, since=EPOCH_T1, until=EPOCH_T1)] == [b"b\n"]


def test_missing_file_is_empty(tmp_path: Path) -> None:
    assert collect(tmp_path / "nope.log") == []


def test_follow_sees_growth_and_rotation_until_stopped(tmp_path: Path) -> None:
    log = tmp_path / "ctr.log"
    write(log, [f"{T0} stdout F first"])

    async def go() -> list[bytes]:
        stop = asyncio.Event()
        seen: list[bytes] = []
        got_one = asyncio.Event()

        async def reader() -> None:
            async for record in read_log(log, follow=True, stop=stop):
                seen.append(record.data)
                got_one.set()

        task = asyncio.create_task(reader())
        await asyncio.wait_for(got_one.wait(), 5)
        got_one.clear()
        write(log, [f"{T1} stdout P grow", f"{T1} stdout F n"], mode="a")
        await asyncio.wait_for(got_one.wait(), 5)
        got_one.clear()
        # conmon's rotation: a new file renamed over the path.
        write(log.with_name("ctr.log.tmp"), [f"{T2} stderr F rotated"])
        os.replace(log.with_name("ctr.log.tmp"), log)
        await asyncio.wait_for(got_one.wait(), 5)
        # Written just before the stop: still delivered.
        write(log, [f"{T2} stdout F last"], mode="a")
        stop.set()
        await asyncio.wait_for(task, 5)
        return seen

    assert asyncio.run(go()) == [b"first\n", b"grown\n", b"rotated\n", b"last\n"]


def test_follow_of_a_file_that_appears_later(tmp_path: Path) -> None:
    log = tmp_path / "later.log"

    async def go() -> list[bytes]:
        stop = asyncio.Event()

        async def reader() -> list[bytes]:
            return [r.data async for r in read_log(log, follow=True, stop=stop)]

        task = asyncio.create_task(reader())
        await asyncio.sleep(0.05)
        write(log, [f"{T0} stdout F hello"])
        await asyncio.sleep(0.05)
        stop.set()
        return await asyncio.wait_for(task, 5)

    assert asyncio.run(go()) == [b"hello\n"]
