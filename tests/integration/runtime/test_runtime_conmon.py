# SPDX-License-Identifier: Apache-2.0
"""The runtime wrapper against real conmon and runc, with a busybox root filesystem."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from dockyard.oci import build_exec_process, build_spec
from dockyard.runtime import STDERR, STDOUT, Runtime, RuntimeFailure, read_log

pytestmark = [pytest.mark.requires_root, pytest.mark.timeout(60)]


# ── fixtures ──────────────────────────────────────────────────────────────────────────

@pytest.fixture(scope="module")
def rootfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("rootfs")
    root.chmod(0o755)  # pytest makes its directories 0700; non-root users need to traverse /
    (root / "bin").mkdir()
    shutil.copy2("/bin/busybox", root / "bin" / "busybox")
    applets = subprocess.run([str(root / "bin" / "busybox"), "--list"], check=True,
                             capture_output=True, text=True).stdout.split()
    for applet in applets:
        if applet != "busybox":
            (root / "bin" / applet).symlink_to("busybox")
    for name in ("etc", "proc", "sys", "dev", "tmp", "root"):
        (root / name).mkdir(exist_ok=True)
    (root / "tmp").chmod(0o1777)
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n")
    (root / "etc" / "group").write_text("root:x:0:\nnogroup:x:65534:\n")
    return root


@pytest.fixture
def dirs(tmp_path: Path) -> dict[str, Path]:
    # Short paths: the test asserts conmon's sockets and runc's state work under them.
    return {"runc_root": tmp_path / "runc", "bundles": tmp_path / "b", "logs": tmp_path / "logs"}


@pytest.fixture
def rt(dirs: dict[str, Path]):
    runtime = Runtime(runc="runc", conmon="conmon", runc_root=dirs["runc_root"],
                      bundles_dir=dirs["bundles"])
    dirs["logs"].mkdir()
    yield runtime
    # Whatever a failing test left running.
    if dirs["runc_root"].exists():
        for entry in dirs["runc_root"].iterdir():
            subprocess.run(["runc", "--root", str(dirs["runc_root"]), "delete", "--force", entry.name],
                           capture_output=True)


def new_id() -> str:
    return "rt-" + uuid.uuid4().hex[:16]


def record(cid: str, args: list[str], *, tty: bool = False, stdin: bool = False,
           **host_config: Any) -> dict[str, Any]:
    return {
        "Id": cid, "Path": args[0], "Args": args[1:],
        "Config": {"Env": ["PATH=/bin"], "Hostname": cid[:12], "Tty": tty, "OpenStdin": stdin},
        "HostConfig": host_config,
    }


async def create(rt: Runtime, rootfs: Path, dirs: dict[str, Path], cid: str, args: list[str], *,
                 tty: bool = False, stdin: bool = False, stdin_once: bool = False,
                 **host_config: Any) -> int:
    spec = build_spec(record(cid, args, tty=tty, stdin=stdin, **host_config), rootfs=str(rootfs))
    return await rt.create(cid, spec, tty=tty, stdin=stdin, stdin_once=stdin_once,
                           log_path=dirs["logs"] / f"{cid}.log")


async def log_of(dirs: dict[str, Path], cid: str) -> list[tuple[str, bytes]]:
    return [(r.stream, r.data) async for r in read_log(dirs["logs"] / f"{cid}.log")]


async def read_all(connection: Any) -> list[tuple[int, bytes]]:
    return [item async for item in connection]


def conmon_processes(needle: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
            with open(f"/proc/{entry}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if b"conmon" in cmdline.split(b"\0")[0] and needle.encode() in cmdline and state != "Z":
            found.append(int(entry))
    return found


def own_bounding_set() -> str:
    with open("/proc/self/status") as f:
        return next(line.split()[1] for line in f if line.startswith("CapBnd:"))


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# ── tests ─────────────────────────────────────────────────────────────────────────────

def test_echo_goes_to_the_log_and_delete_removes_everything(rt: Runtime, rootfs: Path, dirs: dict[str, Path]) -> None:
    cid = new_id()

    async def scenario() -> None:
        pid = await create(rt, rootfs, dirs, cid, ["echo", "hi"])
        assert pid > 0
        state = await rt.state(cid)
        assert state is not None and state["status"] == "created" and state["pid"] == pid
        await rt.start(cid)
        status = await rt.wait(cid)
        assert status.code == 0 and not status.oom_killed
        assert status.finished_at.endswith("Z") and len(status.finished_at) == 30
        assert await log_of(dirs, cid) == [("stdout", b"hi\n")]
        assert not await rt.is_alive(cid)
        await rt.delete(cid)
        assert await rt.state(cid) is None
        assert not rt.bundle_dir(cid).exists()
        await rt.delete(cid)  # deleting twice is not an error

    run(scenario())


def test_exit_code_and_stderr(rt: Runtime, rootfs: Path, dirs: dict[str, Path]) -> None:
    cid = new_id()

    async def scenario() -> None:
        await create(rt, rootfs, dirs, cid, ["sh", "-c", "echo oops >&2; exit 3"])
        await rt.start(cid)
        assert (await rt.wait(cid)).code == 3
        assert await log_of(dirs, cid) == [("stderr", b"oops\n")]
        await rt.delete(cid)

    run(scenario())


def test_tty_container(rt: Runtime, rootfs: Path, dirs: dict[str, Path]) -> None:
    cid = new_id()

    async def scenario() -> None:
        await create(rt, rootfs, dirs, cid, ["sh", "-c", "tty; echo $TERM"], tty=True)
        await rt.start(cid)
        assert (await rt.wait(cid)).code == 0
        lines = await log_of(dirs, cid)
        # One stream, the terminal's line endings.
        assert lines == [("stdout", b"/dev/pts/0\r\n"), ("stdout", b"xterm\r\n")]
        await rt.delete(cid)

    run(scenario())


def test_sigterm_through_init_gives_143(rt: Runtime, rootfs: Path, dirs: dict[str, Path]) -> None:
    cid = new_id()

    async def scenario() -> None:
        # pid 1 ignores SIGTERM it has no handler for; with --init the signal reaches
        # the command and the init reports the death as 128+15.
        await create(rt, rootfs, dirs, cid, ["sleep", "60"], Init=True)
        await rt.start(cid)
        assert await rt.is_alive(cid)
        state = await rt.state(cid)
        assert state is not None and state["status"] == "running"
        await rt.kill(cid, signal.SIGTERM)
        assert (await asyncio.wait_for(rt.wait(cid), 10)).code == 143
        await rt.delete(cid)

    run(scenario())


def test_sigkill_gives_137(rt: Runtime, rootfs: Path, dirs: dict[str, Path]) -> None:
    cid = new_id()

    async def scenario() -> None:
        await create(rt, rootfs, dirs, cid, ["sleep", "60"])
        await rt.start(cid)
        await rt.kill(cid, signal.SIGKILL)
        assert (await asyncio.wait_for(rt.wait(cid), 10)).code == 137
        await rt.delete(cid)

    run(scenario())


def test_attach_before_start_sees_everything_and_feeds_stdin(rt: Runtime, rootfs: Path, dirs: dict[str, Path]) -> None:
    cid = new_id()

    async def scenario() -> None:
        await create(rt, rootfs, dirs, cid, ["sh", "-c", "read x; echo got-$x; echo err >&2; cat"],
                     stdin=True, stdin_once=True)
        connection = await rt.open_attach(cid)
        await rt.start(cid)
        await connection.write_stdin(b"ping\nrest of input\n")
        await connection.close_stdin()  # ends `cat`, so the container exits
        items = await asyncio.wait_for(read_all(connection), 10)
        connection.close()
        out = b"".join(d for n, d in items if n == STDOUT)
        err = b"".join(d for n, d in items if n == STDERR)
        assert out == b"got-ping\nrest of input\n"
        assert err == b"err\n"
        assert (await rt.wait(cid)).code == 0
        await rt.delete(cid)

    run(scenario())


def test_attach_to_running_container(rt: Runtime, rootfs: Path, dirs: dict[str, Path]) -> None:
    cid = new_id()

    async def scenario() -> None:
        await create(rt, rootfs, dirs, cid, ["sh", "-c", "while true; do echo tick; sleep 0.05; done"])
        await rt.start(cid)
        assert rt.attach_socket_path(cid).exists()
        connection = await rt.open_attach(cid)
        stream, data = await asyncio.wait_for(connection.read(), 10)
        assert (stream, data) == (STDOUT, b"tick\n")
        await rt.kill(cid, signal.SIGKILL)
        # The monitor closes attach connections when the container is gone.
        rest = await asyncio.wait_for(read_all(connection), 10)
        assert all(item == (STDOUT, b"tick\n") for item in rest)
        assert await connection.read() is None
        connection.close()
        assert (await rt.wait(cid)).code == 137
        await rt.delete(cid)

    run(scenario())


def test_wait_from_a_new_runtime_instance(rt: Runtime, rootfs: Path, dirs: dict[str, Path]) -> None:
    cid = new_id()

    async def scenario() -> None:
        await create(rt, rootfs, dirs, cid, ["sh", "-c", "read x; exit 7"], stdin=True, stdin_once=True)
        await rt.start(cid)
        # A daemon restart: a fresh instance knows only the directories.
        fresh = Runtime(runc="runc", conmon="conmon", runc_root=dirs["runc_root"],
                        bundles_dir=dirs["bundles"])
        assert await fresh.is_alive(cid)
        waiter = asyncio.ensure_future(fresh.wait(cid))
        await asyncio.sleep(0)  # let it start watching
        assert not waiter.done()
        connection = await fresh.open_attach(cid)
        await connection.write_stdin(b"go\n")
        status = await asyncio.wait_for(waiter, 10)
        connection.close()
        assert status.code == 7
        assert not await fresh.is_alive(cid)
        # And once more after the fact: the exit file answers.
        assert (await Runtime(runc="runc", conmon="conmon", runc_root=dirs["runc_root"],
                              bundles_dir=dirs["bundles"]).wait(cid)).code == 7
        await fresh.delete(cid)

    run(scenario())


def test_missing_command_fails_with_runc_message_and_leaves_nothing(rt: Runtime, rootfs: Path, dirs: dict[str, Path]) -> None:
    cid = new_id()

    async def scenario() -> None:
        with pytest.raises(RuntimeFailure) as info:
            await create(rt, rootfs, dirs, cid, ["nosuch"])
        assert 'exec: "nosuch": executable file not found in $PATH' in str(info.value)
        assert not rt.bundle_dir(cid).exists()
        listed = subprocess.run(["runc", "--root", str(dirs["runc_root"]), "list", "-q"],
                                capture_output=True, text=True)
        assert listed.stdout.strip() == ""
        assert conmon_processes(cid) == []
        assert await rt.state(cid) is None

    run(scenario())


def test_resize_reaches_the_terminal(rt: Runtime, rootfs: Path, dirs: dict[str, Path]) -> None:
    cid = new_id()

    async def scenario() -> None:
        await create(rt, rootfs, dirs, cid, ["sh", "-c", "read x; stty size"], tty=True, stdin=True)
        connection = await rt.open_attach(cid)
        await rt.start(cid)
        await rt.resize(cid, 33, 111)
        await connection.write_stdin(b"\n")
        items = await asyncio.wait_for(read_all(connection), 10)
        connection.close()
        assert b"33 111" in b"".join(d for _, d in items)
        await rt.wait(cid)
        await rt.delete(cid)
        with pytest.raises(RuntimeFailure):
            await rt.resize(cid, 10, 10)

    run(scenario())


def test_pause_and_resume(rt: Runtime, rootfs: Path, dirs: dict[str, Path]) -> None:
    cid = new_id()

    async def scenario() -> None:
        await create(rt, rootfs, dirs, cid, ["sleep", "60"])
        await rt.start(cid)
        await rt.pause(cid)
        assert (await rt.state(cid) or {})["status"] == "paused"
        await rt.resume(cid)
        assert (await rt.state(cid) or {})["status"] == "running"
        with pytest.raises(RuntimeFailure):
            await rt.delete(cid)  # running: refused without force
        await rt.delete(cid, force=True)
        assert await rt.state(cid) is None
        assert not rt.bundle_dir(cid).exists()
        assert conmon_processes(cid) == []

    run(scenario())


def test_exec_in_running_container(rt: Runtime, rootfs: Path, dirs: dict[str, Path]) -> None:
    cid = new_id()

    async def scenario() -> None:
        await create(rt, rootfs, dirs, cid, ["sleep", "60"])
        await rt.start(cid)
        process = {"args": ["sh", "-c", "echo exec-out; echo exec-err >&2; exit 5"],
                   "env": ["PATH=/bin"], "cwd": "/", "user": {"uid": 0, "gid": 0}, "terminal": False}
        session = await rt.exec(cid, process, tty=False, stdin=False, exec_id="e1")
        assert session.pid > 0 and session.attach is not None
        items = await asyncio.wait_for(read_all(session.attach), 10)
        assert (STDOUT, b"exec-out\n") in items and (STDERR, b"exec-err\n") in items
        assert await asyncio.wait_for(session.wait(), 10) == 5
        assert await session.wait() == 5  # asking again is fine
        session.close()

        with pytest.raises(RuntimeFailure) as info:
            await rt.exec(cid, {**process, "args": ["nosuch"]}, tty=False, stdin=False, exec_id="e2")
        assert 'exec: "nosuch": executable file not found in $PATH' in str(info.value)

        # The way `docker exec` builds its process: from the container's own.
        base = (await rt.read_spec(cid))["process"]
        privileged = build_exec_process(base, record(cid, ["sleep", "60"]),
                                        {"Cmd": ["sh", "-c", "grep CapEff /proc/self/status; pwd"],
                                         "Privileged": True, "WorkingDir": "/tmp"},
                                        rootfs=str(rootfs))
        session = await rt.exec(cid, privileged, tty=False, stdin=False)
        out = b"".join(d for _, d in await asyncio.wait_for(read_all(session.attach), 10))
        assert await session.wait() == 0
        session.close()
        assert f"CapEff:\t{own_bounding_set()}".encode() in out
        assert out.endswith(b"/tmp\n")

        await rt.kill(cid, signal.SIGKILL)
        await rt.wait(cid)
        await rt.delete(cid)

    run(scenario())


def test_oom_kill_is_reported(rt: Runtime, rootfs: Path, dirs: dict[str, Path]) -> None:
    cid = new_id()

    async def scenario() -> None:
        # `tail` keeps the current line in memory, and /dev/zero has no newline.
        await create(rt, rootfs, dirs, cid, ["tail", "/dev/zero"],
                     Memory=16 * 1024 * 1024, MemorySwap=16 * 1024 * 1024)
        await rt.start(cid)
        status = await asyncio.wait_for(rt.wait(cid), 20)
        assert status.code == 137
        assert status.oom_killed
        await rt.delete(cid)

    run(scenario())


def test_exec_with_tty_and_stdin(rt: Runtime, rootfs: Path, dirs: dict[str, Path]) -> None:
    cid = new_id()

    async def scenario() -> None:
        await create(rt, rootfs, dirs, cid, ["sleep", "60"])
        await rt.start(cid)
        base = {"env": ["PATH=/bin"], "cwd": "/", "user": {"uid": 0, "gid": 0}}
        session = await rt.exec(cid, {**base, "args": ["sh", "-c", "read x; echo got-$x"],
                                      "terminal": True}, tty=True, stdin=True)
        assert session.attach is not None
        await session.resize(20, 70)
        await session.attach.write_stdin(b"hi\n")
        items = await asyncio.wait_for(read_all(session.attach), 10)
        assert b"got-hi\r\n" in b"".join(d for _, d in items)
        assert await asyncio.wait_for(session.wait(), 10) == 0
        session.close()

        # Without a TTY, ending our input ends the process's stdin.
        session = await rt.exec(cid, {**base, "args": ["cat"], "terminal": False},
                                tty=False, stdin=True)
        assert session.attach is not None
        await session.attach.write_stdin(b"echoed\n")
        await session.attach.close_stdin()
        items = await asyncio.wait_for(read_all(session.attach), 10)
        assert items == [(STDOUT, b"echoed\n")]
        assert await asyncio.wait_for(session.wait(), 10) == 0
        session.close()

        await rt.delete(cid, force=True)
        assert conmon_processes(cid) == []

    run(scenario())


def test_spec_options_take_effect_inside(rt: Runtime, rootfs: Path, dirs: dict[str, Path], tmp_path: Path) -> None:
    cid = new_id()
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n10.1.2.3 marker-host\n")
    script = ("id -u; id -g; hostname; grep -E '^(CapEff|Seccomp|NoNewPrivs):' /proc/self/status; "
              "cat /etc/hosts; grep ' /run ' /proc/mounts; touch /x 2>/dev/null || echo ro-root; "
              "ulimit -n; wc -c < /proc/keys; ls /sys/firmware | wc -l")

    async def scenario() -> None:
        ctr = record(cid, ["sh", "-c", script], Tmpfs={"/run": "size=1m"},
                     ReadonlyRootfs=True, SecurityOpt=["no-new-privileges"],
                     Ulimits=[{"Name": "nofile", "Soft": 1000, "Hard": 1000}])
        ctr["Config"]["User"] = "nobody"  # resolved from the rootfs's /etc/passwd
        spec = build_spec(ctr, rootfs=str(rootfs), hosts_path=str(hosts))
        await rt.create(cid, spec, tty=False, stdin=False, log_path=dirs["logs"] / f"{cid}.log")
        await rt.start(cid)
        status = await rt.wait(cid)
        out = b"".join(d for s, d in await log_of(dirs, cid) if s == "stdout").decode()
        assert status.code == 0, out + repr(await log_of(dirs, cid))
        lines = out.splitlines()
        assert lines[:3] == ["65534", "65534", cid[:12]]
        assert "CapEff:\t0000000000000000" in out  # a non-root user keeps no effective caps
        assert "Seccomp:\t2" in out and "NoNewPrivs:\t1" in out
        assert "10.1.2.3 marker-host" in out
        assert "tmpfs /run tmpfs" in out and "size=1024k" in out
        assert "ro-root" in out
        assert "\n1000\n" in out
        assert lines[-2:] == ["0", "0"]  # /proc/keys and /sys/firmware are masked
        await rt.delete(cid)

    run(scenario())


def test_privileged_container(rt: Runtime, rootfs: Path, dirs: dict[str, Path]) -> None:
    cid = new_id()

    async def scenario() -> None:
        await create(rt, rootfs, dirs, cid,
                     ["sh", "-c", "grep -E '^(CapEff|Seccomp):' /proc/self/status; ls /dev/loop-control /dev/kmsg 2>&1 | wc -l"],
                     Privileged=True)
        await rt.start(cid)
        assert (await rt.wait(cid)).code == 0
        out = b"".join(d for _, d in await log_of(dirs, cid)).decode()
        assert "Seccomp:\t0" in out
        # Every capability the daemon itself may hand out.
        assert f"CapEff:\t{own_bounding_set()}" in out
        await rt.delete(cid)

    run(scenario())
