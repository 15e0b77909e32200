# SPDX-License-Identifier: Apache-2.0
"""A real Docker engine (Debian's docker.io) for differential tests: its own socket, data
root and exec root. By default no bridge and no iptables rules, so it touches nothing on
the host; networking tests may ask for a bridge of their own (name and subnet) and for
Docker's iptables rules, which are removed again afterwards."""

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
def running_dockerd(*, bridge: str | None = None, bip: str | None = None,
                    iptables: bool = False, pools: list[str] = ()) -> Iterator[DockerEngine]:
    """A dockerd on temporary roots. `bridge` and `bip` ("10.1.2.1/24"): a bridge made
    for it (its default network); `pools`: --default-address-pool values; `iptables`:
    let it program iptables like an ordinary install — it then sets the FORWARD policy to
    DROP — and remove its tables afterwards (skipped if iptables tables already exist,
    which could not be told apart from Docker's)."""
    if not shutil.which("dockerd") or not shutil.which("docker") or os.geteuid() != 0:
        pytest.skip("needs Debian's docker.io (dockerd) and root")
    created_tables: list[str] = []
    if iptables:
        existing = _nft_tables()
        if existing & set(_IPTABLES_TABLES):
            pytest.skip("iptables tables exist already; not starting a second iptables owner")
    base = Path(tempfile.mkdtemp(prefix="dockerd-", dir="/var/tmp"))
    sock = base / "docker.sock"
    log = open(base / "dockerd.log", "wb")
    network_flags = ["--bridge=none"]
    if bridge:
        subprocess.run(["ip", "link", "add", bridge, "type", "bridge"], check=True)
        if bip:
            subprocess.run(["ip", "addr", "add", bip, "dev", bridge], check=True)
        subprocess.run(["ip", "link", "set", bridge, "up"], check=True)
        network_flags = [f"--bridge={bridge}"]
    for pool in pools:
        network_flags.append(f"--default-address-pool={pool}")
    network_flags += ["--iptables=true" if iptables else "--iptables=false", "--ip6tables=false"]
    process = subprocess.Popen(
        ["dockerd", "-H", f"unix://{sock}", "--data-root", str(base / "data"),
         "--exec-root", str(base / "exec"), "--pidfile", str(base / "docker.pid"), *network_flags],
        stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
    engine = DockerEngine(f"unix://{sock}", base)
    try:
        deadline = time.monotonic() + 60
        while engine.docker("version", check=False, timeout=10).returncode != 0:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("dockerd did not start:\n" + (base / "dockerd.log").read_text()[-2000:])
            time.sleep(0.2)
        if iptables:
            created_tables = sorted(set(_IPTABLES_TABLES) & (_nft_tables() - existing))
        yield engine
    finally:
        if bridge and process.poll() is None:
            # Its user networks' bridges would outlive it.
            ids = engine.docker("ps", "-aq", check=False).stdout.split()
            if ids:
                engine.docker("rm", "-f", *[i.decode() for i in ids], check=False)
            engine.docker("network", "prune", "-f", check=False)
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
        if bridge:
            subprocess.run(["ip", "link", "del", bridge], capture_output=True)
        for table in created_tables:
            family, name = table.split()
            subprocess.run(["nft", "delete", "table", family, name], capture_output=True)


# The tables iptables-nft keeps Docker's rules in.
_IPTABLES_TABLES = ("ip filter", "ip nat", "ip6 filter", "ip6 nat")


def _nft_tables() -> set[str]:
    listing = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
    return {line[len("table "):].strip() for line in listing.splitlines() if line.startswith("table ")}
