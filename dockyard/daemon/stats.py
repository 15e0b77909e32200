# SPDX-License-Identifier: Apache-2.0
"""`docker stats`: a container's resource usage in the Engine API's stats shape, read from
its cgroup (v1 controllers or v2) and its network namespace's /proc/net/dev.

The client computes rates from two samples: each message carries the previous sample as
`precpu_stats`, and `system_cpu_usage` (host CPU time in nanoseconds) to divide by.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dockyard.daemon import cgroups
from dockyard.units import ZERO_TIME, rfc3339

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def sample(record: dict[str, Any], cgroups_path: str | None) -> dict[str, Any]:
    """One stats message (without `preread`/`precpu_stats`, which the caller carries over)."""
    running = record["State"]["Running"] and cgroups_path is not None
    return {
        "read": rfc3339(),
        "name": record["Name"],
        "id": record["Id"],
        "pids_stats": _pids(cgroups_path) if running else {},
        "blkio_stats": _blkio(cgroups_path) if running else _empty_blkio(),
        "num_procs": 0,
        "storage_stats": {},
        "cpu_stats": _cpu(cgroups_path) if running else _empty_cpu(),
        "memory_stats": _memory(cgroups_path) if running else {},
        "networks": _networks(record["State"]["Pid"]) if running else {},
    }


def with_previous(current: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
    current["preread"] = previous["read"] if previous else ZERO_TIME
    current["precpu_stats"] = previous["cpu_stats"] if previous else _empty_cpu()
    return current


def _cpu(path: str | None) -> dict[str, Any]:
    assert path is not None
    if cgroups.is_v2():
        stat = cgroups.read_keyed(cgroups.controller_dir("cpu", path) / "cpu.stat")
        usage = {"total_usage": stat.get("usage_usec", 0) * 1000,
                 "usage_in_kernelmode": stat.get("system_usec", 0) * 1000,
                 "usage_in_usermode": stat.get("user_usec", 0) * 1000}
        throttle = {"periods": stat.get("nr_periods", 0), "throttled_periods": stat.get("nr_throttled", 0),
                    "throttled_time": stat.get("throttled_usec", 0) * 1000}
    else:
        acct = cgroups.controller_dir("cpuacct", path)
        percpu = _ints(acct / "cpuacct.usage_percpu")
        ticks = cgroups.read_keyed(acct / "cpuacct.stat")
        usage = {"total_usage": cgroups.read_int(acct / "cpuacct.usage"),
                 "percpu_usage": percpu,
                 "usage_in_kernelmode": ticks.get("system", 0) * 1_000_000_000 // _CLOCK_TICKS,
                 "usage_in_usermode": ticks.get("user", 0) * 1_000_000_000 // _CLOCK_TICKS}
        stat = cgroups.read_keyed(cgroups.controller_dir("cpu", path) / "cpu.stat")
        throttle = {"periods": stat.get("nr_periods", 0), "throttled_periods": stat.get("nr_throttled", 0),
                    "throttled_time": stat.get("throttled_time", 0)}
    return {"cpu_usage": usage, "system_cpu_usage": _system_cpu_ns(),
            "online_cpus": os.cpu_count() or 1, "throttling_data": throttle}


def _memory(path: str | None) -> dict[str, Any]:
    assert path is not None
    host_total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    directory = cgroups.controller_dir("memory", path)
    if cgroups.is_v2():
        usage = cgroups.read_int(directory / "memory.current")
        limit = cgroups.read_int(directory / "memory.max", host_total)
        stats = cgroups.read_keyed(directory / "memory.stat")
        return {"usage": usage, "stats": stats, "limit": min(limit, host_total)}
    usage = cgroups.read_int(directory / "memory.usage_in_bytes")
    limit = cgroups.read_int(directory / "memory.limit_in_bytes", host_total)
    return {
        "usage": usage,
        "max_usage": cgroups.read_int(directory / "memory.max_usage_in_bytes"),
        "failcnt": cgroups.read_int(directory / "memory.failcnt"),
        "stats": cgroups.read_keyed(directory / "memory.stat"),
        "limit": min(limit, host_total),
    }


def _pids(path: str | None) -> dict[str, Any]:
    assert path is not None
    directory = cgroups.controller_dir("pids", path)
    result = {"current": cgroups.read_int(directory / "pids.current")}
    limit = cgroups.read_int(directory / "pids.max", 0)
    if limit:
        result["limit"] = limit
    return result


def _blkio(path: str | None) -> dict[str, Any]:
    assert path is not None
    blkio = _empty_blkio()
    if cgroups.is_v2():
        return blkio
    directory = cgroups.controller_dir("blkio", path)
    for name, key in (("blkio.throttle.io_service_bytes", "io_service_bytes_recursive"),
                      ("blkio.throttle.io_serviced", "io_serviced_recursive")):
        entries = []
        try:
            lines = (directory / name).read_text().splitlines()
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if len(parts) == 3 and ":" in parts[0]:
                major, minor = parts[0].split(":")
                entries.append({"major": int(major), "minor": int(minor), "op": parts[1].lower(),
                                "value": int(parts[2])})
        blkio[key] = entries or None
    return blkio


def _networks(pid: int) -> dict[str, Any]:
    try:
        lines = Path(f"/proc/{pid}/net/dev").read_text().splitlines()[2:]
    except OSError:
        return {}
    result = {}
    for line in lines:
        name, _, numbers = line.partition(":")
        name = name.strip()
        fields = [int(n) for n in numbers.split()]
        if name == "lo" or len(fields) < 12:
            continue
        result[name] = {"rx_bytes": fields[0], "rx_packets": fields[1], "rx_errors": fields[2],
                        "rx_dropped": fields[3], "tx_bytes": fields[8], "tx_packets": fields[9],
                        "tx_errors": fields[10], "tx_dropped": fields[11]}
    return result


def _system_cpu_ns() -> int:
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:8]
    return sum(int(v) for v in fields) * 1_000_000_000 // _CLOCK_TICKS


def _ints(path: Path) -> list[int]:
    try:
        return [int(v) for v in path.read_text().split()]
    except (OSError, ValueError):
        return []


def _empty_cpu() -> dict[str, Any]:
    return {"cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
            "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}}


def _empty_blkio() -> dict[str, Any]:
    return {key: None for key in ("io_service_bytes_recursive", "io_serviced_recursive",
                                  "io_queue_recursive", "io_service_time_recursive",
                                  "io_wait_time_recursive", "io_merged_recursive",
                                  "io_time_recursive", "sectors_recursive")}
