# SPDX-License-Identifier: Apache-2.0
"""dockyard's own registry server, run on 127.0.0.1 for tests that push and pull."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BIN = Path(sys.executable).parent


@dataclass
class RegistryProcess:
    host: str  # 127.0.0.1:PORT
    root: Path
    process: subprocess.Popen
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, process: subprocess.Popen, log: Path, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"registry exited:\n{log.read_text()}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"registry did not listen:\n{log.read_text()}")


def start_dockyard_registry(root: Path, *extra: str, port: int | None = None) -> RegistryProcess:
    port = port or free_port()
    log = root.parent / f"registry-{port}.log"
    process = subprocess.Popen(
        [str(BIN / "dockyard"), "registry", "serve", "--addr", f"127.0.0.1:{port}", "--root", str(root), *extra],
        stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)
    wait_port(port, process, log)
    return RegistryProcess(f"127.0.0.1:{port}", root, process, log)
