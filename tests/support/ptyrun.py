# SPDX-License-Identifier: Apache-2.0
"""Run a command on a real pseudo-terminal, type into it, and collect what it shows."""

from __future__ import annotations

import os
import pty
import select
import time


def run_on_pty(argv: list[str], keystrokes: list[tuple[float, bytes]], timeout: float = 30) -> tuple[int, bytes]:
    """Start `argv` on a new pty; after each delay send the bytes; return (exit status, output)."""
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    output = bytearray()
    deadline = time.monotonic() + timeout
    pending = list(keystrokes)
    next_at = time.monotonic() + (pending[0][0] if pending else 0)
    status = None
    while time.monotonic() < deadline:
        if pending and time.monotonic() >= next_at:
            os.write(fd, pending.pop(0)[1])
            if pending:
                next_at = time.monotonic() + pending[0][0]
        ready, _, _ = select.select([fd], [], [], 0.05)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                chunk = b""
            if not chunk:
                break
            output += chunk
        done, raw = os.waitpid(pid, os.WNOHANG)
        if done:
            status = raw
            # drain what is left
            while select.select([fd], [], [], 0.1)[0]:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                output += chunk
            break
    if status is None:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
        _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), bytes(output)
