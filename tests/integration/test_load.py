# SPDX-License-Identifier: Apache-2.0
"""A small run of bench/load.py (the full one: 200 running containers, 50 clients, 5
minutes; figures in docs/RELIABILITY.md): no failed request, nothing left behind."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytestmark = pytest.mark.requires_root

LOAD = Path(__file__).resolve().parents[2] / "bench" / "load.py"


def test_load_no_failures_no_leftovers(fresh_daemon):
    fresh_daemon.cli("pull", "busybox")
    spec = importlib.util.spec_from_file_location("bench_load", LOAD)
    load = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(load)
    result = load.run(fresh_daemon.host, running=20, clients=8, seconds=15, pid=fresh_daemon.process.pid)
    figures = {name: value for name, value, _ in result["lines"]}
    assert result["errors"] == []
    assert figures["load_cycles"] >= 8
    assert figures["load_leftover_containers"] == 0
    assert figures["load_leftover_rootfs_mounts"] == 0
    assert figures["load_leftover_monitors"] == 0
    rss_start, rss_end = result["rss"]
    assert rss_end < rss_start * 2 + 50_000, result["lines"]  # KiB: no runaway growth
