#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Load: N running containers, plus M API clients each looping create → start → inspect →
exec → stop → rm for a while; then checks that nothing failed and nothing leaked.

    bench/load.py [--host unix:///run/dockyard.sock] [--running 200] [--clients 50] [--seconds 300]

Prints `name value unit` lines: cycles done, failed requests, cycle latency (median, p99),
the daemon's RSS at the start and the end (with --pid, or found by its socket), and
leftovers (containers, mounts, conmon processes) after the clean-up. Exits 1 if a request
failed or something leaked. tests/integration/test_load.py runs a small version.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dockyard.client.api import APIClient  # noqa: E402

LABEL = "dockyard.bench.load"
IMAGE = "busybox"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default=os.environ.get("DOCKER_HOST", "unix:///run/dockyard.sock"))
    p.add_argument("--running", type=int, default=200)
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--seconds", type=float, default=300)
    p.add_argument("--pid", type=int, help="the daemon's PID (for RSS); default: found by its socket")
    args = p.parse_args(argv)
    result = run(args.host, args.running, args.clients, args.seconds, args.pid)
    for name, value, unit in result["lines"]:
        print(f"{name} {value} {unit}")
    for error in result["errors"][:10]:
        print(f"# error: {error}", file=sys.stderr)
    return 0 if result["ok"] else 1


def run(host: str, running: int, clients: int, seconds: float, pid: int | None = None) -> dict:
    """Do the load; returns {"lines": [(name, value, unit)], "errors": [...], "ok": bool}."""
    api = APIClient(host, timeout=120)
    for message in api.pull(IMAGE, tag="latest"):  # made offline when no registry answers
        if message.get("error"):
            raise SystemExit(f"pull {IMAGE}: {message['error']}")
    pid = pid or _daemon_pid(host)
    rss_start = _rss(pid)
    errors: list[str] = []
    lock = threading.Lock()

    def fail(what: str, error: Exception) -> None:
        with lock:
            errors.append(f"{what}: {error}")

    # The resident crowd.
    def one_running(i: int) -> None:
        try:
            cid = api.create_container({"Image": IMAGE, "Cmd": ["sleep", "3600"], "Labels": {LABEL: "running"},
                                        "HostConfig": {"NetworkMode": "none"}}, name=f"load-run-{i}")["Id"]
            api.start(cid)
        except Exception as e:
            fail("start resident", e)

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        list(pool.map(one_running, range(running)))
    crowd_seconds = time.monotonic() - started

    # The busy clients.
    latencies: list[float] = []
    seen: set[str] = set()  # every container ID, to look for leftovers by
    deadline = time.monotonic() + seconds

    def client(n: int) -> None:
        own = APIClient(host, timeout=120)
        i = 0
        while time.monotonic() < deadline:
            t0 = time.monotonic()
            cid = None
            try:
                cid = own.create_container({"Image": IMAGE, "Cmd": ["sleep", "60"], "Labels": {LABEL: "churn"},
                                            "HostConfig": {"NetworkMode": "none"}}, name=f"load-c{n}-{i}")["Id"]
                with lock:
                    seen.add(cid)
                own.start(cid)
                if not own.inspect_container(cid)["State"]["Running"]:
                    raise RuntimeError(f"{cid[:12]} not running after start")
                exec_id = own.exec_create(cid, {"Cmd": ["true"]})["Id"]
                own.exec_start(exec_id, {"Detach": True})
                own.stop(cid, timeout=0)
                own.remove_container(cid)
                cid = None
                with lock:
                    latencies.append(time.monotonic() - t0)
            except Exception as e:
                fail(f"client {n} cycle {i}", e)
            finally:
                if cid:
                    try:
                        own.remove_container(cid, force=True)
                    except Exception as e:
                        fail(f"client {n} clean-up", e)
            i += 1

    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    rss_end = _rss(pid)

    # Clean up, then look for leftovers.
    left = [c["Id"] for c in api.containers(all=True) if LABEL in (c.get("Labels") or {})]
    seen.update(left)
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda cid: api.remove_container(cid, force=True), left))
    remaining = [c for c in api.containers(all=True) if LABEL in (c.get("Labels") or {})]
    mounts = [m for m in (line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines())
              if m.rsplit("/", 1)[-1] in seen]
    monitors = subprocess.run(["pgrep", "-af", "conmon"], capture_output=True, text=True).stdout
    conmons = [line for line in monitors.splitlines() if any(cid in line for cid in seen)]
    lines = [
        ("load_crowd_start", round(crowd_seconds, 2), "s"),
        ("load_cycles", len(latencies), "cycles"),
        ("load_failed_requests", len(errors), "errors"),
        ("load_cycle_median", round(statistics.median(latencies) * 1000) if latencies else 0, "ms"),
        ("load_cycle_p99", round(_percentile(latencies, 0.99) * 1000) if latencies else 0, "ms"),
        ("load_rss_start", rss_start // 1024, "MiB"),
        ("load_rss_end", rss_end // 1024, "MiB"),
        ("load_leftover_containers", len(remaining), "containers"),
        ("load_leftover_rootfs_mounts", len(mounts), "mounts"),
        ("load_leftover_monitors", len(conmons), "processes"),
    ]
    return {"lines": lines, "errors": errors, "ok": not errors and not remaining and not mounts and not conmons,
            "rss": (rss_start, rss_end)}


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _daemon_pid(host: str) -> int | None:
    socket_path = host.removeprefix("unix://")
    out = subprocess.run(["pgrep", "-f", "dockyardd"], capture_output=True, text=True).stdout.split()
    for pid in out:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
        except OSError:
            continue
        if socket_path in " ".join(cmdline) or (socket_path == "/run/dockyard.sock" and "-H" not in cmdline):
            return int(pid)
    return None


def _rss(pid: int | None) -> int:
    """Resident set size in KiB (0 when unknown)."""
    if pid is None:
        return 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
