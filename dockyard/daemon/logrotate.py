# SPDX-License-Identifier: Apache-2.0
"""`--log-opt max-file`: keeping the last N-1 full log files beside the live one.

conmon writes the container's log and, at `max-size`, swaps in a fresh, empty file by
renaming it over the old path: the old content would be gone. While a container runs
with max-file > 1, this module holds a hard link (`ctr.log.held`) to the live file's
inode; when conmon swaps, the old inode survives through that link and is shifted into
`ctr.log.1` (`ctr.log.1` → `.2` …, the oldest dropped), and the link moves to the new
live file. A swap happens only after max-size more bytes, so checking a few times a
second loses nothing short of max-size bytes a tick. Readers see `ctr.log.N-1 … ctr.log.1,
ctr.log`, oldest first (`log_files`). Registered as a container lifecycle hook.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger("dockyard.logs")

HELD = ".held"
CHECK_INTERVAL = 0.25


def max_files(record: dict[str, Any]) -> int:
    """How many log files the container keeps (Docker's `max-file`, default 1)."""
    options = (record["HostConfig"].get("LogConfig") or {}).get("Config") or {}
    text = str(options.get("max-file") or "1")
    try:
        count = int(text)
    except ValueError:
        count = 0
    return count


def log_files(record: dict[str, Any]) -> list[Path]:
    """The container's log files that exist, oldest first; the live one is last."""
    live = Path(record["LogPath"])
    older = []
    for index in range(max(max_files(record), 1) - 1, 0, -1):
        path = live.with_name(f"{live.name}.{index}")
        if path.exists():
            older.append(path)
    return older + [live]


class LogRotator:
    def __init__(self) -> None:
        self._tasks: dict[str, asyncio.Task[None]] = {}

    async def before_start(self, record: dict[str, Any]) -> dict[str, Any]:
        if max_files(record) > 1:
            await asyncio.to_thread(_hold, Path(record["LogPath"]))
            self._watch(record)
        return {}

    async def after_exit(self, record: dict[str, Any]) -> None:
        task = self._tasks.pop(record["Id"], None)
        if task and record["LogPath"]:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
            await asyncio.to_thread(_rotate_if_swapped, Path(record["LogPath"]), max_files(record))

    async def restore(self, records: list[dict[str, Any]]) -> None:
        for record in records:
            if record["State"]["Running"] and max_files(record) > 1:
                self._watch(record)

    def _watch(self, record: dict[str, Any]) -> None:
        old = self._tasks.pop(record["Id"], None)
        if old:
            old.cancel()
        self._tasks[record["Id"]] = asyncio.create_task(
            self._loop(Path(record["LogPath"]), max_files(record)))

    async def _loop(self, live: Path, keep: int) -> None:
        while True:
            await asyncio.sleep(CHECK_INTERVAL)
            try:
                await asyncio.to_thread(_rotate_if_swapped, live, keep)
            except OSError as e:
                log.warning("rotating %s: %s", live, e)


def validate(record: dict[str, Any]) -> None:
    """Docker's checks of max-file, at create."""
    from dockyard.errors import InvalidParameter

    options = (record["HostConfig"].get("LogConfig") or {}).get("Config") or {}
    if "max-file" in options:
        if max_files(record) < 1:
            raise InvalidParameter(f"invalid value for max-file: {options['max-file']}")
        if max_files(record) > 1 and not options.get("max-size"):
            raise InvalidParameter("max-file cannot be used without max-size")


def _hold(live: Path) -> None:
    held = live.with_name(live.name + HELD)
    live.touch(exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        held.unlink()
    os.link(live, held)


def _rotate_if_swapped(live: Path, keep: int) -> None:
    held = live.with_name(live.name + HELD)
    try:
        held_inode = os.stat(held).st_ino
    except FileNotFoundError:
        return
    try:
        live_inode = os.stat(live).st_ino
    except FileNotFoundError:
        return
    if live_inode == held_inode:
        return
    for index in range(keep - 1, 1, -1):
        older = live.with_name(f"{live.name}.{index - 1}")
        if older.exists():
            os.replace(older, live.with_name(f"{live.name}.{index}"))
    os.replace(held, live.with_name(f"{live.name}.1"))
    os.link(live, held)
