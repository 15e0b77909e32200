# SPDX-License-Identifier: Apache-2.0
"""`Runtime`: containers run by runc under a conmon monitor each, and processes exec'd in
them through the exec helper. No state logic here — the daemon owns the state machine;
this module only starts, signals, watches and removes.

One bundle directory per container, `bundles_dir/<id>/`:

    config.json     the OCI spec we write
    conmon.pid      the monitor's pid (written by conmon's launcher before it returns)
    pidfile         the container's init pid (written by runc)
    attach          conmon's SEQPACKET attach socket        (exists while it runs)
    ctl, winsz      conmon's control fifos (resize)           (exists while it runs)
    exit            the exit code, written by conmon when the container ends
    oom             present if the memory cgroup OOM-killed something

conmon double-forks away from us, so containers outlive the daemon; a new daemon finds
each monitor again through conmon.pid and watches it with a pidfd.

The conmon handshake (its API version 1): we pass a pipe fd in `_OCI_SYNCPIPE`, on which
conmon writes one JSON object per line: `{"data": <pid>}` once the runtime has created
the process, or `{"data": -1, "message": "<runtime stderr>"}` when it failed.

`exec` does not go through conmon and `runc exec` (30 ms of process start-up and seccomp
compilation each): the exec helper (execd, exechelper) forks the process into the
container's cgroups and namespaces, sets it up as runc would (nsenter) with the
container's seccomp filter compiled once per run of the container (seccompbpf), and the
daemon holds its stdio itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import re
import select
import shutil
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dockyard.errors import DockyardError, InvalidParameter
from dockyard.runtime.attach import AttachConnection, connect_attach
from dockyard.runtime.exechelper import ExecHelper, ExecSession, Stdio, StdioConnection
from dockyard.runtime.failures import NoSuchContainer, RuntimeFailure
from dockyard.runtime.nsenter import NAMESPACE_FLAGS
from dockyard.runtime.seccompbpf import compile_filter

_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_STOP_WAIT = 5.0  # seconds to let a force-deleted container's monitor finish


@dataclass(frozen=True)
class ExitStatus:
    code: int  # the exit status, or 128+N for death by signal N; 255 if the monitor died
    oom_killed: bool
    finished_at: str  # RFC 3339 with nanoseconds, UTC


class Runtime:
    """Async wrapper around conmon + runc. Methods may be called concurrently for
    different containers; the caller serialises calls for one container."""

    def __init__(self, *, runc: str, conmon: str, runc_root: Path, bundles_dir: Path):
        # conmon insists on an absolute, executable runtime path, and runs in the bundle
        # directory, so every path we hand it is absolute.
        self.runc = os.path.abspath(shutil.which(runc) or runc)
        self.conmon = shutil.which(conmon) or conmon
        self.runc_root = Path(runc_root).absolute()
        self.bundles_dir = Path(bundles_dir).absolute()
        self._exec_helper = ExecHelper()
        self._exec_targets: dict[str, _ExecTarget] = {}

    # ── paths ─────────────────────────────────────────────────────────────────────────

    def bundle_dir(self, cid: str) -> Path:
        return self.bundles_dir / _checked_id(cid)

    def attach_socket_path(self, cid: str) -> Path:
        return self.bundle_dir(cid) / "attach"

    # ── lifecycle ─────────────────────────────────────────────────────────────────────

    async def create(self, cid: str, spec: dict[str, Any], *, tty: bool, stdin: bool,
                     log_path: Path | None, stdin_once: bool = False, log_size_max: int = 0) -> int:
        """Create the container (not yet started) under a new conmon, and return its pid.

        conmon owns the container's stdio: it writes stdout/stderr to `log_path` in its
        k8s-file format (nowhere when it is None) and to attach clients, and keeps stdin
        (when `stdin`) for them.
        With `stdin_once`, the container's stdin closes when an attach client closes its
        input (Docker's StdinOnce); otherwise it stays open across attach sessions.
        On failure nothing is left behind and RuntimeFailure carries runc's message."""
        bundle = self.bundle_dir(cid)
        await asyncio.to_thread(_prepare_bundle, bundle, spec)
        args = [
            "--api-version", "1", "-c", cid, "-u", cid, "-n", cid,
            "-r", self.runc, "-b", str(bundle),
            "-p", str(bundle / "pidfile"), "-P", str(bundle / "conmon.pid"),
            "-l", f"k8s-file:{Path(log_path).absolute()}" if log_path else "none:",
            "--persist-dir", str(bundle), "--full-attach", "--socket-dir-path", str(bundle),
            # Docker never fsyncs container logs; an fsync per exit costs milliseconds.
            "--no-sync-log",
            *self._conmon_runtime_args(),
        ]
        if log_size_max > 0 and log_path:
            args += ["--log-size-max", str(log_size_max)]
        if tty:
            args.append("-t")
        if stdin:
            args.append("-i")
            if not stdin_once:
                args.append("--leave-stdin-open")
        launched: _Launched | None = None
        try:
            launched = await self._launch_conmon(args, cwd=bundle)
            try:
                message = await launched.sync.message()
            finally:
                launched.sync.close()
            pid = message.get("data") if message else None
            if isinstance(pid, int) and pid > 0:
                # The launcher wrote conmon.pid before exiting; wait() and is_alive()
                # rely on it, so make sure it is there before the caller can ask.
                await asyncio.shield(launched.reaped)
                return pid
            reason = (message or {}).get("message") or ""
            raise RuntimeFailure(_runtime_error(reason) if reason
                                 else _conmon_error(await launched.stderr()))
        except BaseException:
            await asyncio.shield(self._cleanup_failed(cid, bundle, launched))
            raise

    async def start(self, cid: str) -> None:
        await self._runc("start", cid)

    async def kill(self, cid: str, signal: int, all: bool = False) -> None:
        args = ["kill"]
        if all:
            args.append("--all")
        await self._runc(*args, cid, str(int(signal)))

    async def pause(self, cid: str) -> None:
        await self._runc("pause", cid)

    async def resume(self, cid: str) -> None:
        await self._runc("resume", cid)

    async def update(self, cid: str, resources: dict[str, Any]) -> None:
        """Apply new cgroup limits (an OCI `linux.resources` object) to a running container."""
        path = self.bundle_dir(cid) / "resources.json"
        await asyncio.to_thread(_write_atomic, path, json.dumps(resources).encode())
        await self._runc("update", "--resources", str(path), cid)

    async def delete(self, cid: str, force: bool = False) -> None:
        """Remove runc's state and the bundle. Without `force` a running container is
        refused (RuntimeFailure); with it the container is killed first. Deleting what
        does not exist is not an error."""
        bundle = self.bundle_dir(cid)
        self._exec_targets.pop(cid, None)
        if (self.runc_root / cid).exists():
            args = ["delete", "--force", cid] if force else ["delete", cid]
            try:
                await self._runc(*args)
            except NoSuchContainer:
                pass
        if force:
            # Let the monitor record the exit and let go of the bundle before it goes.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wait_conmon(bundle), _STOP_WAIT)
        await asyncio.to_thread(shutil.rmtree, bundle, True)

    async def state(self, cid: str) -> dict[str, Any] | None:
        """runc's state (`status`: created, running, paused, stopped; `pid`; …), or None
        when runc does not know the container."""
        if not (self.runc_root / _checked_id(cid)).exists():
            return None
        try:
            out = await self._runc("state", cid)
        except NoSuchContainer:
            return None
        return json.loads(out)

    async def wait(self, cid: str) -> ExitStatus:
        """Return once the container has exited. Works for a container created by an
        earlier daemon process: the monitor is found through its pidfile."""
        bundle = self.bundle_dir(cid)
        watched = await self._wait_conmon(bundle)
        # File times are coarse (a few ms); when we saw the exit happen, now is closer.
        seen = time.time_ns() if watched else None
        return await asyncio.to_thread(_exit_status, bundle, seen)

    async def is_alive(self, cid: str) -> bool:
        """Whether the container's monitor still runs (so its exit is still to come)."""
        bundle = self.bundle_dir(cid)
        pidfd = await asyncio.to_thread(_open_conmon_pidfd, bundle)
        if pidfd is None:
            return False
        try:
            return not _fd_readable_now(pidfd)
        finally:
            os.close(pidfd)

    # ── stdio ─────────────────────────────────────────────────────────────────────────

    async def open_attach(self, cid: str) -> AttachConnection:
        """A connection to the container's stdio through conmon's attach socket: read()
        gives (stream, bytes) pairs, 1 stdin, 2 stdout, 3 stderr; write_stdin() and
        close_stdin() feed the container's stdin."""
        return await connect_attach(self.attach_socket_path(cid))

    async def resize(self, cid: str, height: int, width: int) -> None:
        """Resize the container's terminal (no-op for a container without one)."""
        await asyncio.to_thread(_write_ctl, self.bundle_dir(cid) / "ctl", f"1 {height} {width}\n")

    # ── exec ──────────────────────────────────────────────────────────────────────────

    async def read_spec(self, cid: str) -> dict[str, Any]:
        """The config.json the container was created with (its `process` is the base of
        an exec's); NoSuchContainer if there is no bundle."""
        try:
            text = await asyncio.to_thread((self.bundle_dir(cid) / "config.json").read_text)
        except FileNotFoundError:
            raise NoSuchContainer(f"container {cid} has no bundle") from None
        return json.loads(text)

    async def exec(self, cid: str, process: dict[str, Any], *, tty: bool, stdin: bool,
                   attach: bool = True, exec_id: str | None = None) -> ExecSession:
        """Run `process` (an OCI process object) in the running container `cid`, set up
        as `runc exec` would (see nsenter), through the exec helper. With `attach`, the
        session's `attach` holds the process's stdio from before it starts, so no output
        is missed. Raises RuntimeFailure with runc's wording when the process cannot
        start."""
        exec_id = exec_id or uuid.uuid4().hex
        target = await asyncio.to_thread(self._exec_target, cid)
        request = {"id": exec_id, "pid": target.pid, "cgroup": target.cgroup,
                   "namespaces": target.namespaces, "process": process,
                   "keyring": f"_ses.{cid}", "seccompFlags": target.seccomp_flags, "tty": tty}
        stdio = Stdio(tty=tty, stdin=stdin, attach=attach)
        try:
            try:
                pid, exited = await self._exec_helper.start(request, target.seccomp, stdio.theirs)
            finally:
                stdio.close_theirs()
            connection = stdio.connect()
        except BaseException:
            stdio.discard()
            raise
        session = ExecSession(exec_id, pid, exited, connection if attach else None)
        if connection is not None and not attach:
            asyncio.create_task(_drain(connection))
        return session

    async def start_exec_helper(self) -> None:
        """Start the exec helper now rather than on the first exec."""
        await self._exec_helper.ensure()

    async def close(self) -> None:
        """Let go of the exec helper (the daemon is stopping)."""
        await self._exec_helper.close()

    def _exec_target(self, cid: str) -> _ExecTarget:
        """What entering the container needs, read from its bundle once per run of it:
        the init's pid, its cgroup, the namespaces to join, the compiled seccomp filter."""
        bundle = self.bundle_dir(cid)
        pid = _read_pid(bundle / "pidfile")
        if pid is None:
            raise RuntimeFailure(f"container {cid} is not running")
        cached = self._exec_targets.get(cid)
        if cached is not None and cached.pid == pid:
            return cached
        try:
            spec = json.loads((bundle / "config.json").read_bytes())
        except FileNotFoundError:
            raise NoSuchContainer(f"container {cid} has no bundle") from None
        linux = spec.get("linux") or {}
        section = linux.get("seccomp")
        program, flags = compile_filter(section) if section else (None, 0)
        target = _ExecTarget(
            pid=pid, cgroup=linux.get("cgroupsPath") or "", seccomp=program, seccomp_flags=flags,
            namespaces=[n["type"] for n in linux.get("namespaces") or () if n.get("type") in NAMESPACE_FLAGS])
        self._exec_targets[cid] = target
        return target

    # ── internals ─────────────────────────────────────────────────────────────────────

    def _conmon_runtime_args(self) -> list[str]:
        # JSON logs let us pick runc's error message out of its stderr reliably.
        return [f"--runtime-arg=--root={self.runc_root}", "--runtime-arg=--log-format=json"]

    async def _launch_conmon(self, args: Sequence[str], *, cwd: Path) -> _Launched:
        sync_r, sync_w = os.pipe2(os.O_CLOEXEC)
        env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "LISTEN_PID", "LISTEN_FDS")}
        env["_OCI_SYNCPIPE"] = str(sync_w)
        try:
            proc = await asyncio.create_subprocess_exec(
                self.conmon, *args, cwd=str(cwd), env=env, pass_fds=[sync_w],
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE, start_new_session=True)
        except BaseException:
            os.close(sync_r)
            raise
        finally:
            os.close(sync_w)  # the child's end: conmon has it now (or never will)
        return _Launched(proc, _SyncPipe(sync_r))

    async def _cleanup_failed(self, cid: str, bundle: Path, launched: _Launched | None) -> None:
        """Undo a create that failed or was cancelled midway: no runc state, no
        monitor, no bundle may remain."""
        if launched is not None:
            # conmon.pid is written by the launcher just before it exits.
            with contextlib.suppress(Exception):
                await launched.reaped
        for _ in range(2):
            # A cancelled create may have got as far as a created container, whose
            # monitor only exits once it is deleted.
            if (self.runc_root / cid).exists():
                with contextlib.suppress(DockyardError):
                    await self._runc("delete", "--force", cid)
            try:
                await asyncio.wait_for(self._wait_conmon(bundle), _STOP_WAIT)
                break
            except TimeoutError:
                continue
        await asyncio.to_thread(shutil.rmtree, bundle, True)

    async def _wait_conmon(self, directory: Path) -> bool:
        """Return when the conmon whose pidfile is in `directory` has exited: True if we
        watched it exit, False if it was gone already."""
        pidfd = await asyncio.to_thread(_open_conmon_pidfd, directory)
        if pidfd is None:
            return False
        try:
            if _fd_readable_now(pidfd):
                return False
            await _wait_readable(pidfd)
            return True
        finally:
            os.close(pidfd)

    async def _runc(self, *args: str) -> str:
        proc = await asyncio.create_subprocess_exec(
            self.runc, f"--root={self.runc_root}", "--log-format=json", *args,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate()
        if proc.returncode != 0:
            message = _runtime_error(err.decode(errors="replace")) or \
                f"runc {args[0]} failed: exit status {proc.returncode}"
            if "does not exist" in message:
                raise NoSuchContainer(message)
            raise RuntimeFailure(message)
        return out.decode(errors="replace")


# ── process plumbing ──────────────────────────────────────────────────────────────────

class _SyncPipe:
    """The read end of a conmon pipe, yielding one JSON object per line."""

    def __init__(self, fd: int):
        os.set_blocking(fd, False)
        self._fd = fd
        self._buffer = b""
        self._eof = False

    async def message(self) -> dict[str, Any] | None:
        """The next message, or None at end of file."""
        while b"\n" not in self._buffer and not self._eof:
            if self._fd < 0:
                return None
            await _wait_readable(self._fd)
            try:
                chunk = os.read(self._fd, 65536)
            except BlockingIOError:
                continue
            if not chunk:
                self._eof = True
            self._buffer += chunk
        line, newline, self._buffer = self._buffer.partition(b"\n")
        if not newline and not line.strip():
            return None
        try:
            value = json.loads(line)
        except ValueError:
            return {"message": line.decode(errors="replace")}
        return value if isinstance(value, dict) else None

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


@dataclass(frozen=True)
class _ExecTarget:
    pid: int
    cgroup: str
    namespaces: list[str]
    seccomp: bytes | None
    seccomp_flags: int


async def _drain(connection: StdioConnection) -> None:
    """Read and drop a detached exec's terminal output until it ends."""
    try:
        while await connection.read() is not None:
            pass
    finally:
        connection.close()


@dataclass
class _Launched:
    proc: asyncio.subprocess.Process
    sync: _SyncPipe

    async def stderr(self) -> str:
        """What conmon's launcher printed (its own errors, e.g. bad arguments)."""
        _, err = await asyncio.shield(self.reaped)
        text = err.decode(errors="replace").strip() if err else ""
        return text or f"conmon exited with status {self.proc.returncode}"

    def __post_init__(self) -> None:
        # The launcher exits right after forking the monitor (having written
        # conmon.pid); reap it in the background and drain its stderr so neither a
        # zombie nor a full pipe is left.
        self.reaped = asyncio.ensure_future(self.proc.communicate())
        self.reaped.add_done_callback(lambda f: f.cancelled() or f.exception())


async def _wait_readable(fd: int) -> None:
    loop = asyncio.get_running_loop()
    future: asyncio.Future[None] = loop.create_future()

    def ready() -> None:
        if not future.done():
            future.set_result(None)

    loop.add_reader(fd, ready)
    try:
        await future
    finally:
        loop.remove_reader(fd)


def _fd_readable_now(fd: int) -> bool:
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


# ── blocking file work (run in threads) ───────────────────────────────────────────────

def _prepare_bundle(bundle: Path, spec: dict[str, Any]) -> None:
    if bundle.exists():
        # Leftovers of an earlier run of this container (its exit file above all) would
        # be mistaken for this run's.
        shutil.rmtree(bundle)
    bundle.mkdir(parents=True, mode=0o700)
    _write_atomic(bundle / "config.json", json.dumps(spec, separators=(",", ":")).encode())


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _open_conmon_pidfd(directory: Path) -> int | None:
    """A pidfd for the conmon recorded in `directory`, or None if it is gone. The pid is
    checked to still be that conmon (its command line names the directory), so a reused
    pid after a reboot is not mistaken for it."""
    pid = _read_pid(directory / "conmon.pid")
    if pid is None:
        return None
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return None
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read().split(b"\0")
    except OSError:
        os.close(pidfd)
        return None
    if not cmdline or not os.path.basename(cmdline[0]).startswith(b"conmon") or \
            os.fsencode(str(directory)) not in cmdline:
        os.close(pidfd)
        return None
    return pidfd


def _exit_status(bundle: Path, seen_ns: int | None) -> ExitStatus:
    exit_file = bundle / "exit"
    try:
        st = exit_file.stat()
        code = _read_exit_file(exit_file)
        finished = max(st.st_mtime_ns, seen_ns or 0)
    except FileNotFoundError:
        # The monitor died without recording an exit (killed, or the host rebooted):
        # the code is unknowable, as Docker reports it.
        code, finished = 255, time.time_ns()
    return ExitStatus(code=code, oom_killed=(bundle / "oom").exists(),
                      finished_at=_rfc3339_nano(finished))


def _read_exit_file(path: Path) -> int:
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return 255
    try:
        code = int(text)
    except ValueError:
        return 255
    # conmon writes -1 when it could not tell how the process ended.
    return 255 if code < 0 else code


def _write_ctl(path: Path, line: str) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        if e.errno in (errno.ENOENT, errno.ENXIO):
            raise RuntimeFailure("container is not running") from None
        raise
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


# ── messages ──────────────────────────────────────────────────────────────────────────

_TEXT_LOG_RE = re.compile(r'level=(\w+) msg="((?:[^"\\]|\\.)*)"')


def _runtime_error(text: str) -> str:
    """runc's error message from its stderr (JSON or logfmt lines, or plain text)."""
    errors: list[str] = []
    plain: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            entry = None
        if isinstance(entry, dict) and "msg" in entry:
            if entry.get("level") in ("error", "fatal", "panic"):
                errors.append(str(entry["msg"]))
            continue
        match = _TEXT_LOG_RE.search(line)
        if match:
            if match.group(1) in ("error", "fatal", "panic"):
                errors.append(match.group(2).encode().decode("unicode_escape"))
            continue
        plain.append(line)
    if errors:
        return errors[-1]
    return "\n".join(plain)


def _conmon_error(text: str) -> str:
    text = text.strip()
    # conmon prefixes its messages with "[conmon:e]: ".
    text = re.sub(r"^\[conmon:\w\]:\s*", "", text, flags=re.MULTILINE)
    return text or "conmon failed without a message"


def _rfc3339_nano(ns: int) -> str:
    seconds, frac = divmod(ns, 1_000_000_000)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return f"{stamp}.{frac:09d}Z"


def _checked_id(value: str) -> str:
    if not _ID_RE.fullmatch(value):
        raise InvalidParameter(f"invalid container or exec id: {value!r}")
    return value

