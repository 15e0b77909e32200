# SPDX-License-Identifier: Apache-2.0
"""Container verbs beyond the basics, driven by the official docker CLI: pause/unpause,
rename, update, top, prune, and restart policies with back-off and manual stops."""

from __future__ import annotations

import json
import time

import pytest

pytestmark = pytest.mark.requires_root


def _inspect(daemon, ref):
    return json.loads(daemon.docker("inspect", ref).stdout)[0]


def _until(predicate, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def test_pause_unpause(daemon):
    cid = daemon.docker("run", "-d", "busybox", "sh", "-c", "while :; do echo tick; sleep 0.1; done").stdout.decode().strip()
    daemon.docker("pause", cid)
    state = _inspect(daemon, cid)["State"]
    assert state["Paused"] and state["Status"] == "paused"
    assert "(Paused)" in daemon.docker("ps", "--format", "{{.Status}}", "--filter", f"id={cid}").stdout.decode()
    lines = daemon.docker("logs", cid).stdout.count(b"tick")
    time.sleep(0.5)
    assert daemon.docker("logs", cid).stdout.count(b"tick") == lines  # frozen
    again = daemon.docker("pause", cid, check=False)
    assert again.returncode == 1 and b"already paused" in again.stderr
    refused = daemon.docker("exec", cid, "true", check=False)
    assert b"is paused, unpause the container before exec" in refused.stderr
    daemon.docker("unpause", cid)
    assert _until(lambda: daemon.docker("logs", cid).stdout.count(b"tick") > lines)
    daemon.docker("pause", cid)
    daemon.docker("rm", "-f", cid)  # a paused container can be force-removed


def test_rename(daemon):
    cid = daemon.docker("create", "--name", "before", "busybox").stdout.decode().strip()
    daemon.docker("rename", "before", "after")
    assert _inspect(daemon, cid)["Name"] == "/after"
    other = daemon.docker("create", "--name", "taken", "busybox").stdout.decode().strip()
    clash = daemon.docker("rename", "after", "taken", check=False)
    assert clash.returncode == 1 and b"already in use" in clash.stderr
    daemon.docker("rm", cid, other)


def test_update_applies_limits_live(daemon):
    cid = daemon.docker("run", "-d", "busybox", "sleep", "300").stdout.decode().strip()
    daemon.docker("update", "--memory", "64m", "--memory-swap", "-1", "--cpu-shares", "512", "--restart", "always", cid)
    host_config = _inspect(daemon, cid)["HostConfig"]
    assert host_config["Memory"] == 64 * 1024 * 1024 and host_config["CpuShares"] == 512
    assert host_config["RestartPolicy"]["Name"] == "always"
    limit = open(f"/sys/fs/cgroup/memory/dockyard/{cid}/memory.limit_in_bytes").read().strip()
    assert int(limit) == 64 * 1024 * 1024
    daemon.docker("rm", "-f", cid)


def test_top_lists_container_processes_only(daemon):
    cid = daemon.docker("run", "-d", "busybox", "sh", "-c", "sleep 301 & sleep 302").stdout.decode().strip()
    assert _until(lambda: b"sleep 301" in daemon.docker("top", cid).stdout)
    out = daemon.docker("top", cid).stdout.decode()
    assert out.split()[:2] == ["UID", "PID"]
    assert "sleep 302" in out and "dockyardd" not in out
    daemon.docker("rm", "-f", cid)
    stopped = daemon.docker("create", "busybox").stdout.decode().strip()
    assert b"is not running" in daemon.docker("top", stopped, check=False).stderr
    daemon.docker("rm", stopped)


def test_container_prune(daemon):
    keep = daemon.docker("run", "-d", "busybox", "sleep", "300").stdout.decode().strip()
    gone = daemon.docker("run", "--label", "tier=tmp", "busybox", "true").stdout and \
        daemon.docker("ps", "-aq", "--filter", "label=tier=tmp", "--no-trunc").stdout.decode().split()
    labelled_other = daemon.docker("create", "--label", "tier=keep", "busybox").stdout.decode().strip()
    out = daemon.docker("container", "prune", "-f", "--filter", "label=tier=tmp").stdout.decode()
    assert all(g in out for g in gone)
    remaining = daemon.docker("ps", "-aq", "--no-trunc").stdout.decode().split()
    assert keep in remaining and labelled_other in remaining
    daemon.docker("rm", "-f", keep, labelled_other)


def test_restart_on_failure_counts_and_stops(daemon):
    cid = daemon.docker("run", "-d", "--restart", "on-failure:3", "busybox", "sh", "-c", "exit 1").stdout.decode().strip()
    assert _until(lambda: _inspect(daemon, cid)["RestartCount"] == 3 and
                  _inspect(daemon, cid)["State"]["Status"] == "exited", timeout=15)
    time.sleep(1)
    assert _inspect(daemon, cid)["RestartCount"] == 3  # no fourth try
    daemon.docker("rm", cid)


def test_restart_always_and_manual_stop(daemon):
    cid = daemon.docker("run", "-d", "--restart", "always", "busybox", "sh", "-c", "sleep 0.3; exit 0").stdout.decode().strip()
    assert _until(lambda: _inspect(daemon, cid)["RestartCount"] >= 2, timeout=15)
    daemon.docker("stop", "-t", "1", cid)
    count = _inspect(daemon, cid)["RestartCount"]
    time.sleep(1.5)
    state = _inspect(daemon, cid)
    assert state["State"]["Status"] == "exited" and state["RestartCount"] == count
    daemon.docker("rm", cid)


def test_unless_stopped_survives_daemon_restart_but_manual_stop_holds(fresh_daemon):
    from tests.support.daemon import restart_daemon

    d = fresh_daemon
    up = d.docker("run", "-d", "--restart", "unless-stopped", "busybox", "sleep", "300").stdout.decode().strip()
    held = d.docker("run", "-d", "--restart", "unless-stopped", "busybox", "sleep", "300").stdout.decode().strip()
    d.docker("stop", "-t", "0", held)
    killed = d.docker("run", "-d", "--restart", "unless-stopped", "busybox", "sleep", "300").stdout.decode().strip()
    d.docker("kill", killed)  # like Docker, a kill is a manual stop too
    time.sleep(0.5)
    assert _inspect(d, killed)["RestartCount"] == 0
    restart_daemon(d)
    assert _inspect(d, up)["State"]["Running"]
    assert not _inspect(d, held)["State"]["Running"]
    assert not _inspect(d, killed)["State"]["Running"]
    d.docker("rm", "-f", up, held, killed)


def test_health_checks_drive_state_events_and_ps(daemon):
    cid = daemon.docker("run", "-d", "--health-cmd", "test -e /ok && echo fine", "--health-interval", "300ms",
                        "--health-retries", "2", "busybox", "sleep", "300").stdout.decode().strip()
    assert "(health: starting)" in daemon.docker("ps", "--filter", f"id={cid}", "--format", "{{.Status}}").stdout.decode()
    assert _until(lambda: _inspect(daemon, cid)["State"]["Health"]["Status"] == "unhealthy")
    daemon.docker("exec", cid, "touch", "/ok")
    assert _until(lambda: _inspect(daemon, cid)["State"]["Health"]["Status"] == "healthy")
    health = _inspect(daemon, cid)["State"]["Health"]
    assert health["FailingStreak"] == 0 and health["Log"][-1]["Output"] == "fine\n"
    assert len(health["Log"]) <= 5
    assert cid[:12] in daemon.docker("ps", "-q", "--filter", "health=healthy").stdout.decode()
    events = daemon.docker("events", "--since", "0", "--until", str(int(time.time()) + 1), "--filter",
                           f"container={cid}", "--format", "{{.Action}}").stdout.decode().split("\n")
    assert "health_status: unhealthy" in events and "health_status: healthy" in events
    daemon.docker("rm", "-f", cid)


def test_stats_reads_the_cgroup(daemon):
    cid = daemon.docker("run", "-d", "--memory", "100m", "busybox", "sh", "-c", "while :; do :; done").stdout.decode().strip()
    out = daemon.docker("stats", "--no-stream", "--format", "{{.CPUPerc}} {{.MemUsage}} {{.PIDs}}", cid).stdout.decode()
    cpu, usage, _slash, limit, pids = out.split()
    assert float(cpu.rstrip("%")) > 20 and limit == "100MiB" and pids == "1"
    daemon.docker("rm", "-f", cid)
