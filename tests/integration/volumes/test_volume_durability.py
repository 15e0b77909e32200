# SPDX-License-Identifier: Apache-2.0
"""Volume data and metadata across daemon restarts and SIGKILLs: data survives, references
come back (rm still refuses a volume in use), option mounts are restored, and what a
crash left half-made is cleaned up at start."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.support.daemon import BIN, stop_daemon, wait_ready

pytestmark = pytest.mark.requires_root


def _restart(d, how: str) -> None:
    if how == "SIGKILL":
        d.process.kill()
        d.process.wait()
    else:
        stop_daemon(d, remove_containers=False)
    d.process = subprocess.Popen([str(BIN / "dockyardd"), "-H", d.host, "--data-root", str(d.data_root),
                                  "--exec-root", str(d.exec_root), "--log-file", str(d.log), "-D"],
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, start_new_session=True)
    wait_ready(d)


@pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL"])
def test_volumes_survive_daemon_restarts(fresh_daemon, how, tmp_path):
    d = fresh_daemon
    d.cli("run", "--rm", "-v", "keep:/data", "busybox", "sh", "-c", "echo persisted > /data/f")
    d.cli("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=1m", "fast")
    # create + start: `run -d` leaves a wait request open, and a graceful stop of the
    # daemon waits for open requests.
    writer = d.cli("create", "--name", "writer", "-v", "keep:/data", "-v", "fast:/fast", "busybox", "sh", "-c",
                   "echo in-tmpfs > /fast/f; while [ ! -e /data/stop ]; do sleep 0.05; done").stdout.decode().strip()
    d.cli("start", writer)
    created = d.cli("create", "-v", "/anon", "busybox", "true").stdout.decode().strip()
    anonymous = json.loads(d.cli("inspect", created).stdout)[0]["Mounts"][0]["Name"]
    fast_path = json.loads(d.cli("volume", "inspect", "fast").stdout)[0]["Mountpoint"]

    _restart(d, how)

    assert d.cli("run", "--rm", "-v", "keep:/data", "busybox", "cat", "/data/f").stdout == b"persisted\n"
    assert set(d.cli("volume", "ls", "-q").stdout.decode().split()) == {"keep", "fast", anonymous}
    refused = d.cli("volume", "rm", "keep", check=False)
    assert f"volume is in use - [{writer}]" in refused.stderr.decode()
    # The tmpfs volume is still mounted for the running writer, and goes when it ends.
    assert _mounted(fast_path)
    assert d.cli("run", "--rm", "-v", "fast:/fast", "busybox", "cat", "/fast/f").stdout == b"in-tmpfs\n"
    d.cli("run", "--rm", "-v", "keep:/data", "busybox", "touch", "/data/stop")
    assert d.cli("wait", writer).stdout.strip() == b"0"
    assert not _mounted(fast_path)
    d.cli("rm", "-v", writer, created)
    assert set(d.cli("volume", "ls", "-q").stdout.decode().split()) == {"keep", "fast"}


def test_start_cleans_up_what_a_crash_left_half_made(fresh_daemon):
    d = fresh_daemon
    d.cli("run", "--rm", "-v", "whole:/data", "busybox", "sh", "-c", "echo ok > /data/f")
    d.process.kill()
    d.process.wait()
    root = d.data_root / "volumes"
    # The states a SIGKILL can leave: a create before its rename, a directory whose row
    # never committed, a remove after its row went, a copy-up not yet renamed into place.
    (root / ".new-half-0000" / "_data").mkdir(parents=True)
    (root / "uncommitted" / "_data").mkdir(parents=True)
    (root / ".gone-whole2-0000" / "_data").mkdir(parents=True)
    (root / "whole" / ".stage-0000" / "partial").mkdir(parents=True)
    _restart(d, "none")
    assert sorted(os.listdir(root)) == ["whole"]
    assert sorted(os.listdir(root / "whole")) == ["_data"]
    assert d.cli("volume", "ls", "-q").stdout.decode().split() == ["whole"]
    assert d.cli("run", "--rm", "-v", "whole:/data", "busybox", "cat", "/data/f").stdout == b"ok\n"
    # The name of the half-made volume is free again and gets a fresh, empty volume.
    assert d.cli("run", "--rm", "-v", "uncommitted:/data", "busybox", "ls", "-A", "/data").stdout == b""


def _mounted(path: str) -> bool:
    with open("/proc/self/mounts") as f:
        return any(line.split()[1] == path for line in f)
