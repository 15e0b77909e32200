# SPDX-License-Identifier: Apache-2.0
"""`exec` in running containers: output, exit codes, stdin, user/workdir/env, detached
execs, Docker's 126 for a command that cannot start, and refusal on stopped containers."""

from __future__ import annotations

import json
import re
import subprocess
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
    assert missing.returncode == 126
    # Docker 20.10's words, letter for letter.
    assert (b'OCI runtime exec failed: exec failed: unable to start container process: exec: "no-such": '
            b"executable file not found in $PATH: unknown") in missing.stdout + missing.stderr
    nowhere = daemon.docker("exec", "-w", "/nonexist", running, "pwd", check=False)
    assert nowhere.returncode == 126 and (b'chdir to cwd ("/nonexist") set in config.json failed: '
                                          b"no such file or directory") in nowhere.stdout + nowhere.stderr
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


def test_quick_execs_lose_no_output(daemon, running):
    # The process often ends before the daemon has read its pipes: all of it still arrives.
    for i in range(15):
        assert daemon.docker("exec", running, "echo", f"line-{i}").stdout == f"line-{i}\n".encode()
    out = daemon.docker("exec", running, "sh", "-c", "seq 1 20000; seq 1 5 >&2").stdout
    assert out.count(b"\n") == 20000 and out.endswith(b"\n20000\n")
    # SIGPIPE is not ignored in the exec'd process (Python, which starts it, ignores it).
    piped = daemon.docker("exec", running, "sh", "-c", "yes | head -1", timeout=20)
    assert piped.stdout == b"y\n" and b"Broken pipe" not in piped.stderr


def test_exec_with_a_terminal(daemon, running):
    out = daemon.docker("exec", "-t", running, "sh", "-c", "tty; stty size; echo x").stdout
    assert out.startswith(b"/dev/pts/") and out.endswith(b"x\r\n")
    # Detached with a terminal: the process runs and its output goes nowhere.
    daemon.docker("exec", "-d", "-t", running, "sh", "-c", "seq 1 100000; touch /tty-done")
    deadline = time.time() + 10
    while daemon.docker("exec", running, "test", "-e", "/tty-done", check=False).returncode and time.time() < deadline:
        time.sleep(0.1)
    assert daemon.docker("exec", running, "test", "-e", "/tty-done", check=False).returncode == 0


# What an exec'd process is made of, compared field by field with `runc exec` into the
# same container: ids, groups, capability sets, no_new_privs, seccomp, namespaces,
# cgroups, rlimits, OOM score and environment.
_PROBE = ("id; grep -E '^(Cap|Seccomp|NoNewPrivs|Groups|Sig(Ign|Blk))' /proc/self/status; cat /proc/self/limits; "
          "cat /proc/self/oom_score_adj; readlink /proc/self/ns/*; cat /proc/self/cgroup; "
          "env | grep -v ^HOSTNAME= | sort; pwd; umask; ls /proc/self/fd")


@pytest.mark.parametrize("flags", [
    [],
    ["-u", "nobody", "--cap-add", "NET_ADMIN", "--ulimit", "nofile=512:1024",
     "--security-opt", "no-new-privileges", "--oom-score-adj", "300", "-w", "/tmp"],
    ["--privileged", "--group-add", "5"],
])
def test_exec_process_is_what_runc_exec_makes(daemon, flags):
    cid = daemon.cli("run", "-d", *flags, "busybox", "sleep", "300").stdout.decode().strip()
    try:
        ours = daemon.docker("exec", cid, "sh", "-c", _PROBE).stdout.decode()
        process = daemon.exec_root / "probe.json"
        base = json.loads((daemon.exec_root / "containers" / cid / "config.json").read_text())["process"]
        process.write_text(json.dumps({**base, "args": ["sh", "-c", _PROBE], "terminal": False}))
        theirs = subprocess.run(["runc", "--root", str(daemon.exec_root / "runc"), "exec", "-p", str(process), cid],
                                capture_output=True, check=True, timeout=30).stdout.decode()
        # runc 1.1.5 (Go 1.19) races its own raise of the open-files soft limit against
        # the container's: that line is checked on its own.
        assert _without_nofile(ours) == _without_nofile(theirs)
        assert "Seccomp:\t2" in ours or "--privileged" in flags
        if "nofile=512:1024" in flags:
            assert re.search(r"Max open files\s+512\s+1024\s", ours)
    finally:
        daemon.cli("rm", "-f", cid, check=False)


def _without_nofile(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.startswith("Max open files"))


def test_exec_process_leads_its_own_session(daemon, running):
    # As runc makes it: `kill 0` in the container reaches only the exec's own group,
    # never the daemon's exec helper (a stopped helper would stop every later exec).
    shell, group, session = daemon.docker(
        "exec", running, "sh", "-c", 'set -- $(cat /proc/self/stat); echo "$$ $5 $6"').stdout.split()
    assert shell == group == session
    daemon.docker("exec", "-d", running, "sh", "-c", "kill -STOP 0")
    time.sleep(0.3)
    assert daemon.docker("exec", running, "echo", "still", timeout=20).stdout == b"still\n"
