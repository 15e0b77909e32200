# SPDX-License-Identifier: Apache-2.0
"""Reading a container's cgroup: its processes (for `top`) and its usage counters (for
`stats`), under cgroup v1 controllers or the v2 unified hierarchy."""

from __future__ import annotations

from pathlib import Path

ROOT = Path("/sys/fs/cgroup")


def is_v2() -> bool:
    return (ROOT / "cgroup.controllers").exists()


def controller_dir(controller: str, cgroups_path: str) -> Path:
    """The directory of `cgroups_path` (the spec's `linux.cgroupsPath`) for `controller`."""
    relative = cgroups_path.lstrip("/")
    if is_v2():
        return ROOT / relative
    return ROOT / controller / relative


def pids(cgroups_path: str) -> list[int]:
    """Every process in the container's cgroup (empty once it is gone)."""
    path = controller_dir("pids", cgroups_path) / "cgroup.procs"
    try:
        return [int(line) for line in path.read_text().split()]
    except OSError:
        return []


def read_int(path: Path, default: int = 0) -> int:
    try:
        text = path.read_text().strip()
    except OSError:
        return default
    if text == "max":
        return default
    try:
        return int(text)
    except ValueError:
        return default


def read_keyed(path: Path) -> dict[str, int]:
    """A `key value` per line file (memory.stat, cpu.stat)."""
    values: dict[str, int] = {}
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return values
    for line in lines:
        key, _, value = line.partition(" ")
        try:
            values[key] = int(value)
        except ValueError:
            continue
    return values
