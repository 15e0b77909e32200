# SPDX-License-Identifier: Apache-2.0
"""`run` flags that shape the container's process and limits, through the docker CLI:
OOM kills, --init, --read-only, capabilities, pids, ulimits, sysctls, tmpfs, shm,
--privileged, seccomp."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.requires_root


def test_memory_limit_oom_kills(daemon):
    result = daemon.docker("run", "--name", "oom", "--memory", "16m", "--memory-swap", "16m", "busybox",
                           "sh", "-c", "x=a; while :; do x=\"$x$x\"; done", check=False)
    assert result.returncode == 137
    state = json.loads(daemon.docker("inspect", "oom").stdout)[0]["State"]
    assert state["OOMKilled"] is True and state["ExitCode"] == 137
    daemon.docker("rm", "oom")


def test_init_is_pid_1(daemon):
    out = daemon.docker("run", "--rm", "--init", "busybox", "ps", "-o", "pid,comm").stdout.decode().split("\n")
    assert out[1].split() == ["1", "docker-init"]


def test_read_only_and_capabilities(daemon):
    ro = daemon.docker("run", "--rm", "--read-only", "busybox", "touch", "/x", check=False)
    assert ro.returncode == 1 and b"Read-only file system" in ro.stderr
    assert daemon.docker("run", "--rm", "--read-only", "--tmpfs", "/tmp", "busybox", "touch", "/tmp/x").returncode == 0
    nocap = daemon.docker("run", "--rm", "--cap-drop", "ALL", "busybox", "chown", "nobody", "/tmp", check=False)
    assert nocap.returncode == 1 and b"Operation not permitted" in nocap.stderr
    caps = daemon.docker("run", "--rm", "busybox", "grep", "CapEff", "/proc/self/status").stdout.split()[1]
    assert caps == b"00000000a80425fb"  # Docker's default capability set
    assert daemon.docker("run", "--rm", "--cap-add", "NET_ADMIN", "busybox", "grep", "CapEff",
                         "/proc/self/status").stdout.split()[1] == b"00000000a80435fb"


def test_default_confinement_and_privileged(daemon):
    denied = daemon.docker("run", "--rm", "busybox", "mount", "-t", "tmpfs", "t", "/tmp", check=False)
    assert denied.returncode != 0
    assert daemon.docker("run", "--rm", "busybox", "cat", "/proc/kcore", check=False).stdout == b""
    assert daemon.docker("run", "--rm", "--privileged", "busybox", "mount", "-t", "tmpfs", "t", "/tmp").returncode == 0
    seccomp = daemon.docker("run", "--rm", "busybox", "grep", "Seccomp:", "/proc/self/status").stdout.split()[1]
    assert seccomp == b"2"  # filter mode: the default profile is active
    unconfined = daemon.docker("run", "--rm", "--security-opt", "seccomp=unconfined", "busybox", "grep",
                               "Seccomp:", "/proc/self/status").stdout.split()[1]
    assert unconfined == b"0"


def test_limits_and_kernel_settings(daemon):
    forks = daemon.docker("run", "--rm", "--pids-limit", "5", "busybox", "sh", "-c",
                          "for i in 1 2 3 4 5 6; do sleep 1 & done; wait", check=False)
    assert b"can't fork" in forks.stderr
    assert daemon.docker("run", "--rm", "--ulimit", "nofile=100:100", "busybox", "sh", "-c", "ulimit -n").stdout == b"100\n"
    assert daemon.docker("run", "--rm", "--sysctl", "net.ipv4.ip_forward=1", "busybox", "cat",
                         "/proc/sys/net/ipv4/ip_forward").stdout == b"1\n"
    shm = daemon.docker("run", "--rm", "--shm-size", "1m", "busybox", "df", "-k", "/dev/shm").stdout.split()
    assert shm[-5] == b"1024"
    mounted = daemon.docker("run", "--rm", "--tmpfs", "/scratch:size=1m", "busybox", "sh", "-c", "mount | grep scratch").stdout
    assert b"tmpfs on /scratch type tmpfs" in mounted


def test_log_max_size_keeps_the_newest_lines(daemon):
    cid = daemon.docker("run", "-d", "--log-opt", "max-size=4k", "busybox", "seq", "1", "5000").stdout.decode().strip()
    assert daemon.docker("wait", cid).stdout.strip() == b"0"
    logs = daemon.docker("logs", cid).stdout.split()
    assert logs[-1] == b"5000" and len(logs) < 1000
    log_path = json.loads(daemon.docker("inspect", cid).stdout)[0]["LogPath"]
    import os
    assert os.path.getsize(log_path) <= 4096
    daemon.docker("rm", cid)
    bad = daemon.docker("run", "--rm", "--log-opt", "max-size=lots", "busybox", "true", check=False)
    assert bad.returncode == 125 and b"invalid value for max-size" in bad.stderr


def test_log_max_file_keeps_rotated_files(daemon):
    script = "i=0; while [ $i -lt 120 ]; do echo line$i; i=$((i+1)); [ $((i % 10)) = 0 ] && sleep 0.3; done"
    cid = daemon.docker("run", "-d", "--log-opt", "max-size=1k", "--log-opt", "max-file=3", "busybox",
                        "sh", "-c", script).stdout.decode().strip()
    assert daemon.docker("wait", cid, timeout=30).stdout.strip() == b"0"
    log_path = json.loads(daemon.docker("inspect", cid).stdout)[0]["LogPath"]
    import os
    names = sorted(n for n in os.listdir(os.path.dirname(log_path)) if n.startswith("ctr.log"))
    assert names[:3] == ["ctr.log", "ctr.log.1", "ctr.log.2"] and "ctr.log.3" not in names
    lines = daemon.docker("logs", cid).stdout.decode().split()
    numbers = [int(line[4:]) for line in lines]
    assert numbers[-1] == 119 and numbers == list(range(numbers[0], 120))
    assert len(numbers) > 20  # more than one file's worth (each holds about 20 lines)
    assert daemon.docker("logs", "--tail", "3", cid).stdout.decode().split() == ["line117", "line118", "line119"]
    daemon.docker("rm", cid)
    bad = daemon.docker("run", "--rm", "--log-opt", "max-file=2", "busybox", "true", check=False)
    assert bad.returncode == 125 and b"max-file cannot be used without max-size" in bad.stderr
