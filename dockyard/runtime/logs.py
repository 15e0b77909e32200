# SPDX-License-Identifier: Apache-2.0
"""Reading container logs in conmon's k8s-file format.

Each line is `<RFC 3339 time with nanoseconds and offset> <stdout|stderr> <F|P> <text>`:
`F` ends a line of the container's output (its newline was the line's own), `P` is a
piece of a longer line, or output that did not end in a newline, with more to follow
under later `P`/`F` lines. A `LogRecord` is one whole output line (the pieces joined,
newline included), stamped with the time of its first piece, in UTC.

With `--log-size-max`, conmon rotates by writing `<path>.tmp` and renaming it over the
path; a follower notices through inotify (or a changed inode), finishes the old file and
continues at the start of the new one. `tail` counts whole lines, like Docker's.
"""

from __future__ import annotations

import asyncio
import calendar
import contextlib
import ctypes
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

_CHUNK = 1 << 20  # bytes read per trip to a worker thread
_BACK_BLOCK = 1 << 16  # block size when scanning backwards for `tail`


@dataclass(frozen=True, slots=True)
class LogRecord:
    stream: str  # "stdout" or "stderr"
    time: str  # RFC 3339 with nanoseconds, UTC ("2024-05-01T12:00:00.123456789Z"); "" if not asked for
    data: bytes  # the line, with its newline if it had one


async def read_log(path: Path, *, follow: bool = False, since: float | None = None,
                   until: float | None = None, tail: int | None = None,
                   stop: asyncio.Event | None = None) -> AsyncIterator[LogRecord]:
    """The records of the log at `path`, one by one (see `read_log_batches`)."""
    async for batch in read_log_batches(path, follow=follow, since=since, until=until,
                                        tail=tail, stop=stop):
        for record in batch:
            yield record


async def read_log_batches(path: Path, *, follow: bool = False, since: float | None = None,
                           until: float | None = None, tail: int | None = None,
                           stop: asyncio.Event | None = None,
                           with_time: bool = True) -> AsyncIterator[list[LogRecord]]:
    """The records of the log at `path`, as lists of what one read of the file held: the
    last `tail` (all if None), of those the ones stamped at or after `since` and at or
    before `until` (epoch seconds). With `follow`, keep yielding new records as they are
    written until `stop` is set (then drain what was written before it and end), until
    `until` passes, or until the caller stops iterating. A missing file is an empty log.
    Reading and parsing happen in a worker thread; lists keep large logs from costing a
    trip through the event loop per line. Without `with_time` (and no `since`/`until`)
    timestamps are not parsed and records carry an empty `time`: most of the cost of a
    large log."""
    since_ns = None if since is None else int(since * 1e9)
    until_ns = None if until is None else int(until * 1e9)
    reader = _Reader(Path(path), parse_time=with_time or since is not None or until is not None)
    watcher = _Watcher(Path(path)) if follow else None

    def next_batch() -> tuple[list[LogRecord], bool, bool]:
        """(records, anything read, `until` passed)."""
        lines = reader.read_lines()
        batch = []
        for record, stamp in reader.records(lines):
            if until_ns is not None and stamp > until_ns:
                return batch, True, True
            if since_ns is None or stamp >= since_ns:
                batch.append(record)
        return batch, bool(lines), False

    try:
        await asyncio.to_thread(reader.open, tail)
        # Draining: read to the end once more, then finish (no follow, or stop was set,
        # so output written just before the stop still counts).
        draining = not follow
        while True:
            batch, read_any, past_until = await asyncio.to_thread(next_batch)
            if batch:
                yield batch
            if past_until:
                return
            if read_any:
                continue
            if draining:
                break
            if stop is not None and stop.is_set():
                draining = True
                continue
            if until_ns is not None and time.time_ns() > until_ns:
                break
            if await asyncio.to_thread(reader.rotated):
                await asyncio.to_thread(reader.reopen)
                continue
            assert watcher is not None
            await watcher.wait(stop)
        # Output that never got its newline (the container ended mid-line).
        rest = [record for record, stamp in reader.flush_partial()
                if (since_ns is None or stamp >= since_ns) and (until_ns is None or stamp <= until_ns)]
        if rest:
            yield rest
    finally:
        reader.close()
        if watcher is not None:
            watcher.close()


# ── the file side (runs in worker threads) ────────────────────────────────────────────

class _Reader:
    def __init__(self, path: Path, parse_time: bool = True):
        self.path = path
        self.parse_time = parse_time
        self._fd = -1
        self._rest = b""
        # Per stream, the pieces of a line still being assembled: (time, stamp, parts).
        self._partial: dict[str, tuple[str, int, list[bytes]]] = {}
        self._ts_cache: dict[bytes, tuple[int, str]] = {}

    def open(self, tail: int | None) -> None:
        try:
            self._fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            self._fd = -1
            return
        if tail is not None:
            os.lseek(self._fd, _tail_offset(self._fd, max(tail, 0)), os.SEEK_SET)

    def reopen(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
        self._rest = b""
        self.open(None)

    def rotated(self) -> bool:
        """Whether the path now names another file than the one open (or one appeared)."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return False
        if self._fd < 0:
            return True
        return os.fstat(self._fd).st_ino != st.st_ino

    def read_lines(self) -> list[bytes]:
        """Complete lines now available (a trailing unterminated line waits)."""
        if self._fd < 0:
            return []
        data = os.read(self._fd, _CHUNK)
        if not data:
            return []
        data = self._rest + data
        lines = data.split(b"\n")
        self._rest = lines.pop()
        return lines

    def records(self, lines: list[bytes]) -> list[tuple[LogRecord, int]]:
        out = []
        for line in lines:
            parts = line.split(b" ", 3)
            if len(parts) != 4:
                continue
            ts, stream_b, tag, text = parts
            stream = "stderr" if stream_b == b"stderr" else "stdout"
            if self.parse_time:
                parsed = self._timestamp(ts)
                if parsed is None:
                    continue
                stamp, when = parsed
            else:
                stamp, when = 0, ""
            pending = self._partial.get(stream)
            if tag == b"P":
                if pending is None:
                    self._partial[stream] = (when, stamp, [text])
                else:
                    pending[2].append(text)
                continue
            if pending is not None:
                del self._partial[stream]
                when, stamp = pending[0], pending[1]
                text = b"".join(pending[2]) + text
            out.append((LogRecord(stream, when, text + b"\n"), stamp))
        return out

    def flush_partial(self) -> list[tuple[LogRecord, int]]:
        """The lines still missing their end, oldest first."""
        pending = sorted(self._partial.items(), key=lambda kv: kv[1][1])
        self._partial.clear()
        return [(LogRecord(stream, when, b"".join(parts)), stamp)
                for stream, (when, stamp, parts) in pending]

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _timestamp(self, ts: bytes) -> tuple[int, str] | None:
        """(epoch ns, UTC RFC 3339) for conmon's `2024-05-01T14:00:00.123456789+02:00`."""
        head = ts[:19]
        dot = ts.find(b".", 19)
        if dot == 19:
            end = 20
            while end < len(ts) and 48 <= ts[end] <= 57:
                end += 1
            frac, zone = ts[20:end], ts[end:]
        else:
            frac, zone = b"", ts[19:]
        key = head + zone
        cached = self._ts_cache.get(key)
        if cached is None:
            try:
                seconds = calendar.timegm((int(head[0:4]), int(head[5:7]), int(head[8:10]),
                                           int(head[11:13]), int(head[14:16]), int(head[17:19])))
                if zone not in (b"Z", b""):
                    sign = -1 if zone[:1] == b"-" else 1
                    seconds -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
            except ValueError:
                return None
            cached = (seconds, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)))
            if len(self._ts_cache) > 4096:
                self._ts_cache.clear()
            self._ts_cache[key] = cached
        nanos = int((frac + b"000000000")[:9]) if frac else 0
        return cached[0] * 1_000_000_000 + nanos, f"{cached[1]}.{nanos:09d}Z"


def _tail_offset(fd: int, tail: int) -> int:
    """Where the last `tail` whole lines of the log begin. A line ends at an `F` entry;
    trailing `P` entries (a line cut off at the end) count as one more."""
    size = os.fstat(fd).st_size
    if tail == 0:
        return size
    position = size
    carry = b""
    seen = 0
    first_entry = True
    while position > 0:
        step = min(_BACK_BLOCK, position)
        position -= step
        block = os.pread(fd, step, position) + carry
        lines = block.split(b"\n")
        # lines[0] may be cut at the block start: keep it for the next round.
        carry = lines[0]
        offset = position + len(lines[0]) + 1
        entries = []
        for line in lines[1:]:
            entries.append((offset, line))
            offset += len(line) + 1
        for start, line in reversed(entries):
            if not line:
                continue
            parts = line.split(b" ", 3)
            ends_line = len(parts) == 4 and parts[2] == b"F"
            if ends_line or first_entry:
                if seen == tail:
                    return start + len(line) + 1
                seen += 1
            first_entry = False
    # The first line of the file, if we got here without enough lines.
    if carry:
        parts = carry.split(b" ", 3)
        if (len(parts) == 4 and parts[2] == b"F") or first_entry:
            if seen == tail:
                return len(carry) + 1
    return 0


# ── waiting for the file to change ────────────────────────────────────────────────────

_IN_MODIFY = 0x002
_IN_MOVED_TO = 0x080
_IN_CREATE = 0x100
_IN_NONBLOCK = os.O_NONBLOCK
_IN_CLOEXEC = os.O_CLOEXEC


class _Watcher:
    """Wakes a follower when the log's directory sees a write, a create or a rename
    (conmon's rotation). Falls back to a short timer where inotify is unavailable."""

    _libc: ctypes.CDLL | None = None

    def __init__(self, path: Path):
        self._fd = -1
        try:
            libc = _Watcher._libc or ctypes.CDLL(None, use_errno=True)
            _Watcher._libc = libc
            fd = libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
            if fd < 0:
                return
            if libc.inotify_add_watch(fd, os.fsencode(str(path.parent)),
                                      _IN_MODIFY | _IN_MOVED_TO | _IN_CREATE) < 0:
                os.close(fd)
                return
            self._fd = fd
        except (OSError, AttributeError):
            self._fd = -1

    async def wait(self, stop: asyncio.Event | None) -> None:
        """Until the directory changed or `stop` is set."""
        loop = asyncio.get_running_loop()
        waiters: list[asyncio.Future[object]] = []
        changed: asyncio.Future[None] = loop.create_future()
        if self._fd >= 0:
            loop.add_reader(self._fd, lambda: changed.done() or changed.set_result(None))
        else:
            # No inotify (ENOSYS, or the watch limit is exhausted): poll gently.
            loop.call_later(0.1, lambda: changed.done() or changed.set_result(None))
        waiters.append(changed)
        stopper = asyncio.ensure_future(stop.wait()) if stop is not None else None
        if stopper is not None:
            waiters.append(stopper)
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if self._fd >= 0:
                loop.remove_reader(self._fd)
                self._drain()
            if stopper is not None:
                stopper.cancel()

    def _drain(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while True:
                # The events are only wake-ups; what they say does not matter.
                if not os.read(self._fd, 65536):
                    return

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

