# SPDX-License-Identifier: Apache-2.0
"""Issue 2's walkthrough with real containers: hello-world, run/ps/logs/stop/rm, exit
codes, stdin, a TTY shell, image commands, save/load/import, and a daemon restart that
leaves containers running."""

from __future__ import annotations

import json
import subprocess
import tarfile
import time

import pytest

from tests.support.daemon import stop_daemon, wait_ready
from tests.support.ptyrun import run_on_pty

pytestmark = pytest.mark.requires_root


def test_hello_world_explains_itself(daemon):
    result = daemon.cli("run", "--rm", "hello-world")
    text = result.stdout.decode()
    assert "Hello from dockyard!" in text
    assert "daemon" in text
    assert daemon.cli("ps", "-a", "-q", "--filter", "ancestor=hello-world").stdout.strip() == b""


def test_run_echo_and_exit_codes(daemon):
    assert daemon.cli("run", "--rm", "busybox", "echo", "hi").stdout == b"hi\n"
    assert daemon.cli("run", "--rm", "busybox", "sh", "-c", "exit 3", check=False).returncode == 3
    err = daemon.cli("run", "--rm", "busybox", "sh", "-c", "echo oops >&2; exit 1", check=False)
    assert err.returncode == 1 and err.stderr == b"oops\n" and err.stdout == b""


def test_missing_command_is_127_with_runc_message(daemon):
    result = daemon.cli("run", "--rm", "busybox", "no-such-command", check=False)
    assert result.returncode == 127
    assert b"executable file not found" in result.stderr


def test_env_and_workdir(daemon):
    out = daemon.cli("run", "--rm", "-e", "GREETING=hey", "-w", "/tmp", "busybox",
                     "sh", "-c", "echo $GREETING $(pwd) $HOSTNAME").stdout.decode().split()
    assert out[0] == "hey" and out[1] == "/tmp" and len(out[2]) == 12


def test_stdin_is_piped(daemon):
    result = daemon.cli("run", "-i", "--rm", "busybox", "sh", "-c", "tr a-z A-Z", input=b"hello\nworld\n")
    assert result.stdout == b"HELLO\nWORLD\n"


def test_detached_lifecycle(daemon):
    cid = daemon.cli("run", "-d", "--name", "sleeper", "busybox", "sh", "-c",
                     "echo started; sleep 300").stdout.decode().strip()
    assert len(cid) == 64
    ps = daemon.cli("ps").stdout.decode()
    assert "sleeper" in ps and cid[:12] in ps and "Up " in ps
    deadline = time.time() + 5
    while b"started" not in daemon.cli("logs", "sleeper").stdout and time.time() < deadline:
        time.sleep(0.05)
    assert daemon.cli("logs", "sleeper").stdout == b"started\n"
    state = json.loads(daemon.cli("inspect", "sleeper").stdout)[0]
    assert state["State"]["Running"] is True and state["Name"] == "/sleeper"
    assert state["Config"]["Hostname"] == cid[:12]
    conflict = daemon.cli("run", "-d", "--name", "sleeper", "busybox", "true", check=False)
    assert conflict.returncode == 125 and b"already in use" in conflict.stderr
    running_rm = daemon.cli("rm", "sleeper", check=False)
    assert running_rm.returncode != 0 and b"container is running" in running_rm.stderr
    daemon.cli("stop", "-t", "1", "sleeper")
    listed = daemon.cli("ps", "-a").stdout.decode()
    assert "Exited (137)" in listed
    assert daemon.cli("wait", "sleeper").stdout.strip() == b"137"
    daemon.cli("rm", "sleeper")
    assert "sleeper" not in daemon.cli("ps", "-a").stdout.decode()
    missing = daemon.cli("inspect", "sleeper", check=False)
    assert missing.returncode == 1 and b"No such" in missing.stderr


def test_create_start_attach_and_kill(daemon):
    cid = daemon.cli("create", "busybox", "sleep", "300").stdout.decode().strip()
    assert json.loads(daemon.cli("inspect", cid).stdout)[0]["State"]["Status"] == "created"
    daemon.cli("start", cid)
    daemon.cli("kill", cid)
    assert daemon.cli("wait", cid).stdout.strip() == b"137"
    daemon.cli("rm", cid)
    cid = daemon.cli("create", "busybox", "sh", "-c", "echo attached; exit 2").stdout.decode().strip()
    out = daemon.cli("start", "-a", cid, check=False)
    assert out.stdout == b"attached\n" and out.returncode == 2
    daemon.cli("rm", cid)


def test_interactive_tty_shell(daemon):
    argv = [str(daemon_cli_path()), "-H", daemon.host, "run", "-it", "--rm", "busybox", "sh"]
    status, output = run_on_pty(argv, [(1.0, b"echo tty-$((6*7))\r"), (0.5, b"tty\r"), (0.5, b"exit 5\r")])
    text = output.decode(errors="replace")
    assert "tty-42" in text
    assert "/dev/pts/" in text
    assert status == 5


def test_logs_follow_ends_when_container_exits(daemon):
    cid = daemon.cli("run", "-d", "busybox", "sh", "-c", "for i in 1 2 3; do echo line$i; sleep 0.2; done").stdout.decode().strip()
    out = daemon.cli("logs", "-f", cid, timeout=20).stdout
    assert out == b"line1\nline2\nline3\n"
    tail = daemon.cli("logs", "--tail", "1", cid).stdout
    assert tail == b"line3\n"
    daemon.cli("rm", cid)


def test_image_commands(daemon, tmp_path):
    daemon.cli("run", "--rm", "busybox", "true")
    images = daemon.cli("images").stdout.decode()
    assert images.splitlines()[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    assert "busybox" in images
    inspected = json.loads(daemon.cli("image", "inspect", "busybox").stdout)[0]
    assert inspected["Id"].startswith("sha256:") and inspected["Config"]["Cmd"] == ["sh"]
    assert "busybox:latest" in inspected["RepoTags"]

    daemon.cli("tag", "busybox", "example/mybox:v1")
    assert "example/mybox" in daemon.cli("images").stdout.decode()
    assert daemon.cli("run", "--rm", "example/mybox:v1", "echo", "tagged").stdout == b"tagged\n"

    archive = tmp_path / "mybox.tar"
    daemon.cli("save", "-o", str(archive), "example/mybox:v1")
    removed = daemon.cli("rmi", "example/mybox:v1").stdout.decode()
    assert "Untagged: example/mybox:v1" in removed
    loaded = daemon.cli("load", "-i", str(archive)).stdout.decode()
    assert "Loaded image: example/mybox:v1" in loaded
    again = json.loads(daemon.cli("image", "inspect", "example/mybox:v1").stdout)[0]
    assert again["Id"] == inspected["Id"]
    daemon.cli("rmi", "example/mybox:v1")


def test_import_a_filesystem_tarball(daemon, tmp_path):
    rootfs = tmp_path / "rootfs.tar.gz"
    with tarfile.open(rootfs, "w:gz") as tar:
        tar.add("/bin/busybox", arcname="bin/busybox")
        link = tarfile.TarInfo("bin/echo")
        link.type, link.linkname = tarfile.SYMTYPE, "busybox"
        tar.addfile(link)
    image_id = daemon.cli("import", "-c", 'CMD ["/bin/echo", "imported"]', str(rootfs),
                          "imported:1").stdout.decode().strip()
    assert image_id.startswith("sha256:")
    assert daemon.cli("run", "--rm", "imported:1").stdout == b"imported\n"
    daemon.cli("rmi", "imported:1")


def test_bad_input_gets_clear_errors(daemon):
    status, body = daemon.api("POST", "/containers/create", {"Image": "busybox", "Cmd": "not-a-list-of-strings-is-fine"})
    assert status == 201
    daemon.api("DELETE", f"/containers/{body['Id']}")
    status, body = daemon.api("POST", "/containers/create", {"Image": "Invalid:Ref"})
    assert status == 400 and "reference format" in body["message"]
    status, body = daemon.api("POST", "/containers/create?name=bad/name", {"Image": "busybox"})
    assert status == 400 and "Invalid container name" in body["message"]
    status, body = daemon.api("POST", "/containers/create", {"Image": "nosuchimage:v9"})
    assert status == 404 and "No such image" in body["message"]
    status, body = daemon.api("GET", "/containers/nope/json")
    assert status == 404 and body["message"] == "No such container: nope"
    status, body = daemon.api("GET", "/v1.99/version")
    assert status == 400 and "too new" in body["message"]
    status, body = daemon.api("GET", "/v1.45/no/such/route")
    assert status == 404
    assert daemon.api("GET", "/v1.24/_ping") == (200, "OK")


@pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL"])
def test_daemon_restart_keeps_containers_running(fresh_daemon, how):
    d = fresh_daemon
    cid = d.cli("run", "-d", "busybox", "sh", "-c", "trap 'exit 7' TERM; while :; do sleep 0.1; done").stdout.decode().strip()
    short = d.cli("run", "-d", "busybox", "sh", "-c", "sleep 1; exit 3").stdout.decode().strip()
    if how == "SIGKILL":
        d.process.kill()
        d.process.wait()
    else:
        stop_daemon(d, remove_containers=False)
    state = json.loads(subprocess.run(["runc", "--root", str(d.exec_root / "runc"), "state", cid],
                                      capture_output=True, check=True).stdout)
    assert state["status"] == "running"  # still running with no daemon
    time.sleep(1.5)  # `short` exits while no daemon watches
    import tests.support.daemon as c
    d.process = subprocess.Popen([str(c.BIN / "dockyardd"), "-H", d.host, "--data-root", str(d.data_root),
                                  "--exec-root", str(d.exec_root), "--log-file", str(d.log), "-D"],
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, start_new_session=True)
    wait_ready(d)
    assert cid[:12] in d.cli("ps").stdout.decode()
    assert d.cli("wait", short).stdout.strip() == b"3"
    # The new daemon drives what the old one started: exec, logs -f, attach.
    assert d.docker("exec", cid, "echo", "exec-after-restart").stdout == b"exec-after-restart\n"
    follower = subprocess.Popen([str(c.BIN / "dockyard"), "-H", d.host, "logs", "-f", cid],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    attacher = subprocess.Popen(["docker", "-H", d.host, "attach", "--no-stdin", cid],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.5)
    d.docker("exec", cid, "sh", "-c", "echo from-exec > /proc/1/fd/1")
    time.sleep(0.3)
    assert "Exited (3)" in d.cli("ps", "-a").stdout.decode()
    d.cli("stop", "-t", "5", cid)
    assert d.cli("wait", cid).stdout.strip() == b"7"
    assert b"from-exec" in follower.communicate(timeout=10)[0]
    assert b"from-exec" in attacher.communicate(timeout=10)[0]
    d.cli("rm", cid, short)


def daemon_cli_path():
    import tests.support.daemon as c

    return c.BIN / "dockyard"
