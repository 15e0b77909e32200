# SPDX-License-Identifier: Apache-2.0
"""The daemon's side of the exec helper (`execd`): starting it, asking it to run a
process in a container, and the running process as an `ExecSession` whose stdio the
daemon holds itself (pipes, or the master of a terminal made inside the container).

The helper is started on first use and again if it dies; while it is gone, sessions it
ran report exit status 255 (their status is unknowable, as for a vanished monitor).

Output of an exec ends when its process has ended (and the pipes are drained), even if a
process it left in the background still holds them — as conmon ends an exec's attach.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import errno
import fcntl
import itertools
import json
import logging
import os
import socket
import struct
import sys
import termios
from typing import Any

from dockyard.runtime.attach import STDERR, STDOUT, OutputStream
from dockyard.runtime.failures import RuntimeFailure

log = logging.getLogger("dockyard.runtime")

_MESSAGE_MAX = 1 << 16
_READ_SIZE = 1 << 16
_LOST = 255
_STOP_WAIT = 2.0  # seconds the helper gets to exit once its socket is closed


class ExecHelper:
    """One helper process per daemon; `start` may be called concurrently."""

    def __init__(self) -> None:
        self._sock: socket.socket | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._starting: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._started: dict[str, asyncio.Future[int]] = {}
        self._exits: dict[str, asyncio.Future[int]] = {}
        self._ids = itertools.count(1)

    async def start(self, request: dict[str, Any], seccomp: bytes | None,
                    stdio: list[int]) -> tuple[int, asyncio.Future[int]]:
        """Run the process `request` describes (see execd); `stdio` are the fds for its
        stdin, stdout and stderr, or the one socket its terminal comes back on. Returns
        its pid and a future of its exit code; RuntimeFailure when it cannot start."""
        sock = await self.ensure()
        loop = asyncio.get_running_loop()
        key = f"{request.get('id', 'exec')}-{next(self._ids)}"
        started: asyncio.Future[int] = loop.create_future()
        exited: asyncio.Future[int] = loop.create_future()
        self._started[key] = started
        self._exits[key] = exited
        fds = list(stdio)
        memfd = -1
        if seccomp is not None:
            memfd = _memfd_with(seccomp)
            fds.insert(0, memfd)
        try:
            payload = json.dumps({**request, "id": key, "seccomp": seccomp is not None}).encode()
            socket.send_fds(sock, [payload], fds)
        except OSError as e:
            self._started.pop(key, None)
            self._exits.pop(key, None)
            raise RuntimeFailure(f"exec helper is gone: {e.strerror}") from None
        finally:
            if memfd >= 0:
                os.close(memfd)
        try:
            pid = await started
        except BaseException:
            self._exits.pop(key, None)
            raise
        return pid, exited

    async def close(self) -> None:
        """Stop the helper (running exec'd processes go on, under init)."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._proc is not None:
            try:
                await asyncio.wait_for(self._proc.wait(), _STOP_WAIT)
            except TimeoutError:
                # Stopped, or stuck on a child: it must not hold up the daemon's exit.
                with contextlib.suppress(ProcessLookupError):
                    self._proc.kill()
            self._proc = None
        if self._reader is not None:
            self._reader.cancel()
            self._reader = None

    # ── internals ─────────────────────────────────────────────────────────────────────

    async def ensure(self) -> socket.socket:
        """The socket to a running helper, started if need be."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            # A helper (and a lock) of another event loop (tests run several) cannot
            # be used from this one: start afresh.
            if self._sock is not None:
                self._sock.close()
                self._sock = None
            self._loop = loop
            self._starting = asyncio.Lock()
        assert self._starting is not None
        async with self._starting:
            if self._sock is not None:
                return self._sock
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            try:
                self._proc = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "dockyard.runtime.execd", str(theirs.fileno()),
                    pass_fds=[theirs.fileno()], stdin=asyncio.subprocess.DEVNULL,
                    start_new_session=True)
            except BaseException:
                ours.close()
                raise
            finally:
                theirs.close()
            ours.setblocking(False)
            self._sock = ours
            self._reader = asyncio.create_task(self._read_replies(ours))
            return ours

    async def _read_replies(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                try:
                    data = await loop.sock_recv(sock, _MESSAGE_MAX)
                except OSError:
                    data = b""
                if not data:
                    break
                self._dispatch(json.loads(data))
        finally:
            # The helper died (or we closed it): nothing pending will ever be answered.
            if self._sock is sock:
                sock.close()
                self._sock = None
                log.warning("the exec helper exited; it is started again on the next exec")
            for future in self._started.values():
                if not future.done():
                    future.set_exception(RuntimeFailure("exec helper exited"))
            for future in self._exits.values():
                if not future.done():
                    future.set_result(_LOST)
            self._started.clear()
            self._exits.clear()

    def _dispatch(self, message: dict[str, Any]) -> None:
        key = str(message.get("id"))
        if "exit" in message:
            future = self._exits.pop(key, None)
            if future is not None and not future.done():
                future.set_result(int(message["exit"]))
            return
        started = self._started.pop(key, None)
        if started is None or started.done():
            return
        if "error" in message:
            self._exits.pop(key, None)
            # runc's wording, which Docker passes on to the user.
            started.set_exception(RuntimeFailure(
                f"exec failed: unable to start container process: {message['error']}"))
        else:
            started.set_result(int(message["pid"]))


def _memfd_with(data: bytes) -> int:
    fd = os.memfd_create("seccomp", os.MFD_CLOEXEC)
    try:
        os.write(fd, data)
    except BaseException:
        os.close(fd)
        raise
    return fd


# ── sessions ──────────────────────────────────────────────────────────────────────────

class ExecSession:
    """A process started in a running container by `Runtime.exec`."""

    def __init__(self, exec_id: str, pid: int, exited: asyncio.Future[int],
                 attach: StdioConnection | None):
        self.exec_id = exec_id
        self.pid = pid
        self.attach = attach
        self._exited = exited
        if attach is not None:
            attach.watch(exited)

    async def wait(self) -> int:
        """The exit code (128+N for a signal) once the process has ended. Any number of
        tasks may wait."""
        return await asyncio.shield(self._exited)

    async def resize(self, height: int, width: int) -> None:
        if self.attach is None or self._exited.done():
            raise RuntimeFailure("exec is not running")
        self.attach.resize(height, width)

    def close(self) -> None:
        """Let go of the session's stdio (the process, if still running, keeps running).
        Whoever reads `attach` closes it; nothing else of a session needs cleaning up."""
        if self.attach is not None:
            self.attach.close()


class StdioConnection(OutputStream):
    """The exec's stdio as the daemon holds it, read and written like an attach
    connection: read() gives (stream, bytes) — STDOUT and STDERR, or all STDOUT from a
    terminal — and None at the end; write_stdin() and close_stdin() feed its input."""

    def __init__(self, outputs: dict[int, int], stdin: int | None, *, terminal: bool):
        self._outputs = dict(outputs)  # fd → stream number
        self._stdin = stdin
        self._terminal = terminal
        self._queue: collections.deque[tuple[int, bytes]] = collections.deque()
        self._wake = asyncio.Event()
        self._exited: asyncio.Future[int] | None = None
        loop = asyncio.get_running_loop()
        for fd in self._outputs:
            os.set_blocking(fd, False)
            loop.add_reader(fd, self._on_readable, fd)
        if stdin is not None and not terminal:
            os.set_blocking(stdin, False)

    def watch(self, exited: asyncio.Future[int]) -> None:
        self._exited = exited
        exited.add_done_callback(lambda _: self._wake.set())

    async def read(self) -> tuple[int, bytes] | None:
        while True:
            if self._queue:
                return self._queue.popleft()
            if not self._outputs:
                return None
            if self._exited is not None and self._exited.done():
                # Whatever the process wrote is in the pipes now; what a process it left
                # behind writes later is not this exec's output.
                for fd in list(self._outputs):
                    while fd in self._outputs and self._on_readable(fd):
                        pass
                if not self._queue:
                    self._close_outputs()
                continue
            self._wake.clear()
            await self._wake.wait()

    async def write_stdin(self, data: bytes) -> None:
        fd = self._stdin
        if fd is None:
            raise BrokenPipeError("stdin of this exec is closed")
        view = memoryview(data)
        while view:
            try:
                written = os.write(fd, view)
            except BlockingIOError:
                await _writable(fd)
                continue
            view = view[written:]

    async def close_stdin(self) -> None:
        # A terminal has no end of input short of hanging up, which would end its
        # output too; as conmon, leave it open.
        if self._stdin is not None and not self._terminal:
            os.close(self._stdin)
            self._stdin = None

    def resize(self, height: int, width: int) -> None:
        if self._terminal and self._stdin is not None:
            fcntl.ioctl(self._stdin, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))

    def close(self) -> None:
        self._close_outputs()
        if self._stdin is not None:
            os.close(self._stdin)
            self._stdin = None

    @property
    def closed(self) -> bool:
        return not self._outputs and self._stdin is None

    # ── internals ─────────────────────────────────────────────────────────────────────

    def _on_readable(self, fd: int) -> bool:
        """Read what `fd` has; False once nothing more is there right now."""
        try:
            data = os.read(fd, _READ_SIZE)
        except BlockingIOError:
            return False
        except OSError as e:
            if e.errno != errno.EIO:  # EIO: a terminal whose other side is all closed
                log.debug("exec output: %s", e)
            data = b""
        if not data:
            self._close_output(fd)
            return False
        self._queue.append((self._outputs[fd], data))
        self._wake.set()
        return True

    def _close_output(self, fd: int) -> None:
        if fd in self._outputs:
            asyncio.get_running_loop().remove_reader(fd)
            del self._outputs[fd]
            if not (self._terminal and fd == self._stdin):
                os.close(fd)
        self._wake.set()

    def _close_outputs(self) -> None:
        for fd in list(self._outputs):
            self._close_output(fd)


async def _writable(fd: int) -> None:
    loop = asyncio.get_running_loop()
    future: asyncio.Future[None] = loop.create_future()
    loop.add_writer(fd, lambda: future.done() or future.set_result(None))
    try:
        await future
    finally:
        loop.remove_writer(fd)


class Stdio:
    """The fds an exec's process gets (`theirs`, handed to the helper) and the daemon's
    ends of them. Detached, all three are /dev/null — unless it has a terminal, whose
    output is then read and dropped (a full terminal would stop the process)."""

    def __init__(self, *, tty: bool, stdin: bool, attach: bool):
        self.theirs: list[int] = []
        self._tty = tty
        self._attach = attach
        self._socket: socket.socket | None = None
        self._outputs: dict[int, int] = {}
        self._stdin: int | None = None
        try:
            if tty:
                ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
                self._socket = ours
                self.theirs = [theirs.detach()]
            elif not attach:
                null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
                self.theirs = [null, os.dup(null), os.dup(null)]
            else:
                out_r, out_w = os.pipe2(os.O_CLOEXEC)
                self._outputs[out_r] = STDOUT
                self.theirs = [-1, out_w]
                err_r, err_w = os.pipe2(os.O_CLOEXEC)
                self._outputs[err_r] = STDERR
                self.theirs.append(err_w)
                if stdin:
                    self.theirs[0], self._stdin = os.pipe2(os.O_CLOEXEC)
                else:
                    self.theirs[0] = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        except BaseException:
            self.discard()
            raise

    def close_theirs(self) -> None:
        """Once the helper has them (or never will)."""
        for fd in self.theirs:
            if fd >= 0:
                os.close(fd)
        self.theirs = []

    def connect(self) -> StdioConnection | None:
        """The daemon's side once the process runs."""
        if self._socket is not None:
            try:
                _, fds, _, _ = socket.recv_fds(self._socket, 16, 1)
            finally:
                self._socket.close()
                self._socket = None
            if not fds:
                raise RuntimeFailure("the exec's terminal did not arrive")
            master = fds[0]
            os.set_blocking(master, False)
            return StdioConnection({master: STDOUT}, master, terminal=True)
        if not self._outputs:
            return None
        connection = StdioConnection(self._outputs, self._stdin, terminal=False)
        self._outputs, self._stdin = {}, None
        return connection

    def discard(self) -> None:
        """The process did not start: close everything."""
        self.close_theirs()
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        for fd in [*self._outputs, *([self._stdin] if self._stdin is not None else [])]:
            os.close(fd)
        self._outputs, self._stdin = {}, None
