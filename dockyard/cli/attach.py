# SPDX-License-Identifier: Apache-2.0
"""Moving bytes between our terminal and a hijacked attach connection.

Output is read on the calling thread until the daemon closes the stream (the container
exited); stdin, if attached, is copied on a daemon thread so that a blocked read never
keeps us alive. When stdin ends we half-close the socket, which tells the daemon to
close the container's stdin while its output keeps flowing. With a TTY our terminal is
put in raw mode (restored on every way out) and the detach keys — ctrl-p ctrl-q unless
overridden — are recognised here, as Docker's CLI does.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from dockyard.cli.command import Cli, StatusError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import threading
    from typing import Any

DEFAULT_DETACH_KEYS = b"\x10\x11"  # ctrl-p, ctrl-q


def pump(
    cli: Cli,
    conn: Any,
    *,
    tty: bool,
    stdin: bool,
    detach_keys: bytes = DEFAULT_DETACH_KEYS,
    stdout: bool = True,
    stderr: bool = True,
) -> bool:
    """Copy until the output ends; returns True if the user detached with the keys.

    Output of a stream that was not asked for (`stdout`/`stderr` False) is dropped.
    """
    # threading is imported only when there is input to copy (it costs every exec).
    detached = None
    if stdin:
        import threading

        detached = threading.Event()
        threading.Thread(
            target=_copy_stdin,
            args=(cli, conn, detach_keys if tty else b"", detached),
            name="stdin",
            daemon=True,
        ).start()
    demuxer = None
    if not tty:
        from dockyard.client.stdcopy import Demuxer

        demuxer = Demuxer()
    while True:
        try:
            data = conn.recv(65536)
        except OSError:
            if detached is not None and detached.is_set():
                break
            raise
        if not data:
            break
        if demuxer is None:
            if stdout or stderr:
                cli.out_bytes(data)
            continue
        for stream, payload in demuxer.feed(data):
            if stream == 2:
                if stderr:
                    cli.err_bytes(payload)
            elif stream == 3:
                raise StatusError(payload.decode("utf-8", "replace"), 1)
            elif stdout:
                cli.out_bytes(payload)
    return detached is not None and detached.is_set()


def parse_detach_keys(spec: str | None) -> bytes:
    """Docker's `--detach-keys` syntax: `ctrl-p,ctrl-q`, `a,b`, `ctrl-@`...

    A spec that does not parse falls back to the default keys, as Docker's client does
    (the daemon, which also receives the spec, is the one to refuse it).
    """
    if not spec:
        return DEFAULT_DETACH_KEYS
    try:
        return _detach_keys(spec)
    except StatusError:
        return DEFAULT_DETACH_KEYS


def _detach_keys(spec: str) -> bytes:
    keys = bytearray()
    for part in spec.split(","):
        part = part.strip()
        if part.lower().startswith("ctrl-") and len(part) == 6:
            char = part[5].lower()
            if char == "@":
                keys.append(0)
            elif "a" <= char <= "z":
                keys.append(ord(char) - ord("a") + 1)
            elif char in "[\\]^_":
                keys.append(ord(char) - 64)
            else:
                raise StatusError(f"Unknown character: '{part}'", 125)
        elif len(part) == 1:
            keys.append(ord(part))
        else:
            raise StatusError(f"Unknown character: '{part}'", 125)
    return bytes(keys)


class RawTerminal:
    """Puts a terminal in raw mode for the duration of a `with` block."""

    def __init__(self, stream: Any):
        self.fd: int | None = None
        try:
            fd = stream.fileno()
        except (AttributeError, ValueError, OSError):
            return
        if os.isatty(fd):
            self.fd = fd
        self._saved: Any = None

    def __enter__(self) -> RawTerminal:
        if self.fd is not None:
            import termios
            import tty

            self._saved = termios.tcgetattr(self.fd)
            tty.setraw(self.fd)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None and self._saved is not None:
            import termios

            termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)


def terminal_size(stream: Any) -> tuple[int, int] | None:
    """(height, width) of the terminal behind `stream`, or None if it is not one."""
    try:
        size = os.get_terminal_size(stream.fileno())
    except (AttributeError, ValueError, OSError):
        return None
    return size.lines, size.columns


def follow_resizes(cli: Cli, resize: Callable[[int, int], None]) -> Callable[[], None]:
    """Send our size now and on every SIGWINCH; returns a function that stops it."""

    def send() -> None:
        size = terminal_size(cli.stdout)
        if size is None:
            return
        try:
            resize(*size)
        except Exception:  # a resize racing the container's exit is harmless
            if cli.debug:
                cli.err("failed to resize tty")

    import signal
    import threading

    send()
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = signal.signal(
        signal.SIGWINCH, lambda *_: threading.Thread(target=send, daemon=True).start()
    )
    return lambda: signal.signal(signal.SIGWINCH, previous)


def proxy_signals(forward: Callable[[str], None]) -> Callable[[], None]:
    """Forward the signals a user sends us to the container (non-TTY `run`, `start -a`)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    names = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"]
    previous: dict[int, Any] = {}

    def handler(signum: int, _frame: Any) -> None:
        name = signal.Signals(signum).name
        threading.Thread(target=_quietly, args=(forward, name), daemon=True).start()

    for name in names:
        number = getattr(signal, name)
        previous[number] = signal.signal(number, handler)

    def restore() -> None:
        for number, old in previous.items():
            signal.signal(number, old)

    return restore


def _quietly(function: Callable[[str], None], arg: str) -> None:
    try:
        function(arg)
    except Exception:
        pass


def _copy_stdin(cli: Cli, conn: Any, detach_keys: bytes, detached: threading.Event) -> None:
    read = _reader(cli.stdin)
    matched = b""  # a prefix of the detach sequence held back until we know
    try:
        while True:
            data = read()
            if not data:
                if matched:
                    conn.sendall(matched)
                conn.close_write()
                return
            if not detach_keys:
                conn.sendall(data)
                continue
            out = bytearray()
            for byte in data:
                candidate = matched + bytes([byte])
                if detach_keys.startswith(candidate):
                    matched = candidate
                    if matched == detach_keys:
                        if out:
                            conn.sendall(bytes(out))
                        detached.set()
                        _shutdown(conn)
                        return
                else:
                    out += candidate
                    matched = b""
            if out:
                conn.sendall(bytes(out))
    except OSError:
        # The container went away while we were writing: its output side reports that.
        return


def _reader(stream: Any) -> Callable[[], bytes]:
    try:
        fd = stream.fileno()
    except (AttributeError, ValueError, OSError):
        buffer = getattr(stream, "buffer", stream)
        return lambda: buffer.read1(65536) if hasattr(buffer, "read1") else buffer.read(65536)
    return lambda: os.read(fd, 65536)


def _shutdown(conn: Any) -> None:
    sock = getattr(conn, "sock", None)
    if sock is not None:
        import socket

        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
