# SPDX-License-Identifier: Apache-2.0
"""The exec helper: a small single-threaded process, started by the daemon, that forks
the processes `docker exec` (and health checks) run in containers.

Why a process of its own: entering a container's namespaces needs a single-threaded
process (setns of a mount namespace refuses a threaded one), and forking the daemon,
with its threads and its size, for each exec would be neither safe nor quick. The helper
is a child subreaper, so the exec'd processes become its children and it reports their
exit statuses.

Protocol, over the SOCK_SEQPACKET socket given as argv[1], one JSON object per message:

    daemon → helper  {"id", "pid", "cgroup", "namespaces", "process", "keyring",
                      "seccompFlags", "tty"} with file descriptors: the seccomp
                      program in a sealed memfd (or none: "seccomp": false), then stdin,
                      stdout, stderr, or with "tty" one socket the terminal's master
                      is sent back on
    helper → daemon  {"id", "pid": N} once the process runs the command
                     {"id", "error": "..."} when it could not start
                     {"id", "exit": N} when it has ended (128+N for signal N)

For each request the helper forks a child that joins the container's cgroups and
namespaces (`nsenter.enter`) and forks the process itself (the PID namespace applies only
to children), which sets itself up and execs (`nsenter.become`). A close-on-exec pipe from
both tells the helper how the start went: end of file means the exec succeeded, a JSON
line is the error. The helper exits when the daemon's end of the socket closes; running
exec'd processes are then left to init.
"""

from __future__ import annotations

import ctypes
import json
import os
import selectors
import socket
import sys
from dataclasses import dataclass, field
from typing import Any

from dockyard.runtime import nsenter

_PR_SET_CHILD_SUBREAPER = 36
_MAX_FDS = 8
_MESSAGE_MAX = 1 << 20


def main(argv: list[str]) -> int:
    control = socket.socket(fileno=int(argv[1]))
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    nsenter.prepare()
    Helper(control).serve()
    return 0


@dataclass
class _Start:
    id: str
    child: int
    status_r: int
    pid_r: int
    pid: int = 0
    report: bytearray = field(default_factory=bytearray)


class Helper:
    def __init__(self, control: socket.socket):
        self._control = control
        self._selector = selectors.DefaultSelector()
        self._running: dict[int, tuple[str, int]] = {}  # pidfd → (exec id, pid)

    def serve(self) -> None:
        self._selector.register(self._control, selectors.EVENT_READ, self._on_request)
        while True:
            for key, _ in self._selector.select():
                if key.data(key.fileobj) is False:
                    return

    # ── events ────────────────────────────────────────────────────────────────────────

    def _on_request(self, _: Any) -> bool:
        try:
            data, fds, _flags, _addr = socket.recv_fds(self._control, _MESSAGE_MAX, _MAX_FDS)
        except (ConnectionResetError, OSError):
            return False
        if not data:
            return False
        try:
            request = json.loads(data)
            self._start(request, fds)
        except Exception as e:  # noqa: BLE001 - a bad request fails only itself
            self._send({"id": request.get("id") if isinstance(request, dict) else None,
                        "error": f"exec helper: {e}"})
        finally:
            for fd in fds:
                os.close(fd)
        return True

    def _on_status(self, start: _Start) -> bool:
        chunk = os.read(start.status_r, 65536)
        if chunk:
            start.report += chunk
            return True
        self._selector.unregister(start.status_r)
        os.close(start.status_r)
        # Both writers are gone: the child has exited, the grandchild exec'd or died.
        os.waitpid(start.child, 0)
        pid_text = os.read(start.pid_r, 64)
        os.close(start.pid_r)
        start.pid = int(pid_text) if pid_text else 0
        if start.report:
            message = _error_text(bytes(start.report))
            if start.pid:
                os.waitpid(start.pid, 0)
            self._send({"id": start.id, "error": message})
            return True
        pidfd = os.pidfd_open(start.pid)
        self._running[pidfd] = (start.id, start.pid)
        self._selector.register(pidfd, selectors.EVENT_READ, self._on_exit)
        self._send({"id": start.id, "pid": start.pid})
        return True

    def _on_exit(self, pidfd: int) -> bool:
        exec_id, pid = self._running.pop(pidfd)
        self._selector.unregister(pidfd)
        os.close(pidfd)
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        self._send({"id": exec_id, "exit": 128 - code if code < 0 else code})
        return True

    # ── starting ──────────────────────────────────────────────────────────────────────

    def _start(self, request: dict[str, Any], fds: list[int]) -> None:
        seccomp = None
        if request.get("seccomp", True):
            seccomp = _read_all(fds[0])
            fds = fds[1:]
        status_r, status_w = os.pipe2(os.O_CLOEXEC)
        pid_r, pid_w = os.pipe2(os.O_CLOEXEC)
        child = os.fork()
        if child == 0:
            self._child(request, seccomp, fds, status_w, pid_w)
        os.close(status_w)
        os.close(pid_w)
        start = _Start(str(request["id"]), child, status_r, pid_r)
        self._selector.register(status_r, selectors.EVENT_READ, lambda _: self._on_status(start))

    def _child(self, request: dict[str, Any], seccomp: bytes | None, fds: list[int],
               status_w: int, pid_w: int) -> None:
        """In the forked child: never returns."""
        code = 1
        try:
            nsenter.seal()
            self._selector.close()
            self._control.close()
            for fd in list(self._running):
                os.close(fd)
            nsenter.enter(request)
            grandchild = os.fork()
            if grandchild == 0:
                os.close(pid_w)
                console = None
                if request.get("tty"):
                    console = socket.socket(fileno=fds[0])
                else:
                    for target, fd in enumerate(fds[:3]):
                        os.dup2(fd, target)
                nsenter.become(request, seccomp, (status_w, console.fileno() if console else -1), console)
            os.write(pid_w, str(grandchild).encode())
            code = 0
        except nsenter.SetupError as e:
            _report(status_w, str(e))
        except BaseException as e:  # noqa: BLE001 - whatever went wrong is the exec's error
            _report(status_w, f"{type(e).__name__}: {e}")
        os._exit(code)

    def _send(self, message: dict[str, Any]) -> None:
        try:
            self._control.send(json.dumps(message).encode())
        except OSError:
            pass  # the daemon is gone; serve() notices on its next read


def _report(fd: int, message: str) -> None:
    try:
        os.write(fd, json.dumps({"message": message}).encode())
    except OSError:
        pass


def _error_text(report: bytes) -> str:
    try:
        return str(json.loads(report)["message"])
    except (ValueError, KeyError, TypeError):
        return report.decode(errors="replace")


def _read_all(fd: int) -> bytes:
    # pread: the daemon hands the same open file to concurrent requests.
    return os.pread(fd, os.fstat(fd).st_size, 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
