# SPDX-License-Identifier: Apache-2.0
"""Crash safety: SIGKILL the daemon in the middle of pull, build, commit, create, start, rm
and volume writes, start it again, and check that the store is consistent (`system fsck`
finds nothing), everything still works, and once the containers are removed nothing is
left behind: no mounts, conmon processes, network namespaces, cgroups or port rules."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.daemon import restart_daemon
from tests.support.registry import free_port, start_dockyard_registry

pytestmark = pytest.mark.requires_root

BIN = Path(sys.executable).parent


def _background(daemon, *args: str) -> subprocess.Popen:
    return subprocess.Popen([str(BIN / "dockyard"), "-H", daemon.host, *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _kill_during(daemon, args: tuple[str, ...], delay: float) -> None:
    """Start `dockyard ARGS`, SIGKILL the daemon `delay` seconds later, start it again."""
    client = _background(daemon, *args)
    time.sleep(delay)
    restart_daemon(daemon, kill=True)
    client.wait(timeout=60)


SEEN: set[str] = set()  # every container ID the test saw, to look for leftovers by


def _assert_consistent(daemon) -> None:
    result = daemon.cli("system", "fsck", check=False)
    assert result.returncode == 0, result.stdout.decode() + daemon.log_text()[-3000:]
    SEEN.update(daemon.cli("ps", "-aq", "--no-trunc").stdout.decode().split())


def test_sigkill_at_every_stage_leaves_a_consistent_store(fresh_daemon, tmp_path):
    daemon = fresh_daemon
    daemon.cli("pull", "busybox")
    # A registry with a ~30 MB image to pull while the daemon dies.
    registry = start_dockyard_registry(tmp_path / "registry")
    try:
        ctx = tmp_path / "ctx"
        ctx.mkdir()
        (ctx / "Dockerfile").write_text(
            "FROM busybox\nRUN head -c 30000000 /dev/urandom > /big && sleep 1\nRUN echo two > /two\n")
        daemon.cli("build", "-t", "big", str(ctx), timeout=120)
        pushed = f"{registry.host}/crash/big:1"
        daemon.cli("tag", "big", pushed)
        daemon.cli("push", pushed, timeout=120)
        daemon.cli("rmi", pushed, "big")
        daemon.cli("builder", "prune", "-af")

        for delay in (0.2, 0.6):
            _kill_during(daemon, ("pull", pushed), delay)
            _assert_consistent(daemon)
        daemon.cli("pull", pushed, timeout=120)  # the next pull completes
        assert daemon.cli("run", "--rm", pushed, "cat", "/two").stdout == b"two\n"

        for delay in (0.5, 1.5):
            _kill_during(daemon, ("build", "--no-cache", "-t", "big2", str(ctx)), delay)
            _assert_consistent(daemon)

        daemon.cli("run", "--name", "tocommit", pushed, "sh", "-c", "head -c 20000000 /dev/urandom > /more")
        for delay in (0.1, 0.3):
            _kill_during(daemon, ("commit", "tocommit", "committed"), delay)
            _assert_consistent(daemon)

        port = free_port()
        _kill_during(daemon, ("create", "--name", "made", "-v", "vol:/data", "busybox", "true"), 0.05)
        _assert_consistent(daemon)
        _kill_during(daemon, ("run", "-d", "--name", "started", "-p", f"127.0.0.1:{port}:80",
                              "-v", "vol:/data", "busybox", "sh", "-c",
                              "i=0; while true; do i=$((i+1)); echo $i > /data/n.tmp && mv /data/n.tmp /data/n; done"),
                     0.3)
        _assert_consistent(daemon)
        # The writer keeps going across another daemon crash; its volume stays whole.
        if b"started" not in daemon.cli("ps", "--format", "{{.Names}}").stdout:
            daemon.cli("start", "started")
        restart_daemon(daemon, kill=True)
        first = daemon.cli("exec", "started", "cat", "/data/n").stdout
        time.sleep(0.2)
        assert int(daemon.cli("exec", "started", "cat", "/data/n").stdout) > int(first)
        _assert_consistent(daemon)

        _kill_during(daemon, ("rm", "-f", "started"), 0.05)
        _assert_consistent(daemon)

        # Clean up the way a user would, then look for anything left behind.
        cids = daemon.cli("ps", "-aq", "--no-trunc").stdout.decode().split()
        if cids:
            daemon.cli("rm", "-f", *cids)
        daemon.cli("volume", "prune", "-af")
        _assert_consistent(daemon)
        _assert_nothing_left(daemon, port)
    finally:
        registry.stop()


def _assert_nothing_left(daemon, port: int) -> None:
    assert SEEN, "the test saw no container"
    roots = (str(daemon.data_root), str(daemon.exec_root))
    netns_dir = daemon.exec_root / "netns"
    mounts = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    assert [m for m in mounts if m.startswith(roots) and m != str(netns_dir)] == []
    assert not netns_dir.exists() or list(netns_dir.iterdir()) == []
    conmons = subprocess.run(["pgrep", "-af", "conmon"], capture_output=True, text=True).stdout
    assert str(daemon.exec_root) not in conmons and not any(cid in conmons for cid in SEEN)
    rules = subprocess.run(["nft", "list", "table", "ip", daemon.nft_table], capture_output=True, text=True).stdout
    assert not re.search(rf"\b{port}\b", rules), rules
    cgroups = {p.name for p in Path("/sys/fs/cgroup").glob("**/dockyard/*") if p.is_dir()}
    assert not cgroups & SEEN
    assert os.listdir(daemon.data_root / "containers") == []
