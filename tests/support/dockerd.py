# SPDX-License-Identifier: Apache-2.0
"""A real Docker engine (Debian's docker.io) for differential tests: its own socket, data
root and exec root, no bridge and no iptables rules, so it touches nothing on the host."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class DockerEngine:
    host: str
    base: Path

    def docker(self, *args: str, input: bytes | None = None, check: bool = True,
               timeout: float = 120) -> subprocess.CompletedProcess:
        result = subprocess.run(["docker", "-H", self.host, *args], input=input or b"",
                                capture_output=True, timeout=timeout,
                                env={**os.environ, "DOCKER_CONFIG": str(self.base / "config")})
        if check and result.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} exited {result.returncode}: {result.stderr.decode()}")
        return result


@contextlib.contextmanager
def running_dockerd() -> Iterator[DockerEngine]:
    if not shutil.which("dockerd") or not shutil.which("docker") or os.geteuid() != 0:
        pytest.skip("needs Debian's docker.io (dockerd) and root")
    base = Path(tempfile.mkdtemp(prefix="dockerd-", dir="/var/tmp"))
    sock = base / "docker.sock"
    log = open(base / "dockerd.log", "wb")
    process = subprocess.Popen(
        ["dockerd", "-H", f"unix://{sock}", "--data-root", str(base / "data"),
         "--exec-root", str(base / "exec"), "--pidfile", str(base / "docker.pid"),
         "--bridge=none", "--iptables=false", "--ip6tables=false"],
        stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
    engine = DockerEngine(f"unix://{sock}", base)
    try:
        deadline = time.monotonic() + 60
        while engine.docker("version", check=False, timeout=10).returncode != 0:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("dockerd did not start:\n" + (base / "dockerd.log").read_text()[-2000:])
            time.sleep(0.2)
        yield engine
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()
        with open("/proc/mounts") as f:
            mounts = [line.split()[1] for line in f]
        for mount in sorted(mounts, key=len, reverse=True):
            if mount.startswith(str(base)):
                subprocess.run(["umount", "-l", mount], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
