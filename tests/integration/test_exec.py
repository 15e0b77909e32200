# SPDX-License-Identifier: Apache-2.0
"""`exec` in running containers: output, exit codes, stdin, user/workdir/env, detached
execs, Docker's 126 for a command that cannot start, and refusal on stopped containers."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.requires_root


@pytest.fixture
def running(daemon):
    cid = daemon.cli("run", "-d", "busybox", "sleep", "300").stdout.decode().strip()
    yield cid
    daemon.cli("rm", "-f", cid, check=False)


def test_exec_output_and_exit_codes(daemon, running):
    assert daemon.docker("exec", running, "echo", "hello").stdout == b"hello\n"
    assert daemon.docker("exec", running, "sh", "-c", "echo err >&2; exit 3", check=False).returncode == 3
    missing = daemon.docker("exec", running, "no-such", check=False)
    assert missing.returncode == 126 and b"executable file not found" in missing.stdout + missing.stderr
    denied = daemon.docker("exec", running, "/etc/passwd", check=False)
    assert denied.returncode == 126 and b"permission denied" in denied.stdout + denied.stderr


def test_exec_user_workdir_env_stdin(daemon, running):
    assert daemon.docker("exec", "-u", "nobody", running, "id").stdout == \
        b"uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)\n"
    out = daemon.docker("exec", "-w", "/tmp", "-e", "A=1", running, "sh", "-c", "pwd; echo $A").stdout
    assert out == b"/tmp\n1\n"
    assert daemon.docker("exec", "-i", running, "cat", input=b"piped\n").stdout == b"piped\n"


def test_detached_exec_and_inspect(daemon, running):
    daemon.docker("exec", "-d", running, "sh", "-c", "sleep 0.3; touch /done")
    deadline = time.time() + 5
    while daemon.docker("exec", running, "test", "-e", "/done", check=False).returncode and time.time() < deadline:
        time.sleep(0.1)
    assert daemon.docker("exec", running, "test", "-e", "/done", check=False).returncode == 0
    status, created = daemon.api("POST", f"/containers/{running}/exec", {"Cmd": ["sh", "-c", "exit 5"]})
    assert status == 201
    status, _ = daemon.api("POST", f"/exec/{created['Id']}/start", {"Detach": True})
    assert status == 200
    deadline = time.time() + 5
    while daemon.api("GET", f"/exec/{created['Id']}/json")[1]["Running"] and time.time() < deadline:
        time.sleep(0.05)
    info = daemon.api("GET", f"/exec/{created['Id']}/json")[1]
    assert info["ExitCode"] == 5 and info["ContainerID"] == running
    assert daemon.api("POST", f"/exec/{created['Id']}/start", {"Detach": True})[0] == 409


def test_exec_refused_when_not_running(daemon):
    cid = daemon.cli("create", "busybox", "true").stdout.decode().strip()
    status, body = daemon.api("POST", f"/containers/{cid}/exec", {"Cmd": ["true"]})
    assert status == 409 and body["message"] == f"Container {cid} is not running"
    status, body = daemon.api("POST", f"/containers/{cid}/exec", {"Cmd": []})
    assert status == 400
    assert daemon.api("GET", "/exec/nope/json")[0] == 404
    daemon.cli("rm", cid)
