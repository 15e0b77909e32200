# SPDX-License-Identifier: Apache-2.0
"""A real dockyard daemon on a temporary data root, exec root and socket for tests, torn
down even when tests fail, plus helpers to run the `dockyard` CLI (and the official
`docker` CLI) against it."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


@dataclass
class DaemonHandle:
    host: str
    socket: Path
    data_root: Path
    exec_root: Path
    log: Path
    process: subprocess.Popen
    # The daemon's own default bridge and nftables table (see network_flags).
    bridge: str = ""
    nft_table: str = ""

    def cli(self, *args: str, input: bytes | None = None, timeout: float = 60, check: bool = True,
            env: dict | None = None) -> subprocess.CompletedProcess:
        """Run `dockyard -H <this daemon> ARGS`."""
        return _run([str(BIN / "dockyard"), "-H", self.host, *args], input, timeout, check, env)

    def docker(self, *args: str, input: bytes | None = None, timeout: float = 60,
               check: bool = True) -> subprocess.CompletedProcess:
        """Run the official docker CLI against this daemon."""
        docker = shutil.which("docker")
        if not docker:
            pytest.skip("no docker CLI installed")
        env = {**os.environ, "DOCKER_CONFIG": str(self.data_root.parent / "docker-config")}
        return _run([docker, "-H", self.host, *args], input, timeout, check, env)

    def api(self, method: str, path: str, body: dict | None = None) -> tuple[int, object]:
        """One plain API request; returns (status, decoded JSON or text)."""
        import http.client
        import socket as socket_module

        class Conn(http.client.HTTPConnection):
            def connect(inner):  # noqa: N805
                inner.sock = socket_module.socket(socket_module.AF_UNIX)
                inner.sock.connect(str(self.socket))

        conn = Conn("localhost", timeout=60)
        payload = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        conn.request(method, path, payload, headers)
        response = conn.getresponse()
        raw = response.read()
        conn.close()
        try:
            return response.status, json.loads(raw)
        except ValueError:
            return response.status, raw.decode(errors="replace")

    def log_text(self) -> str:
        try:
            return self.log.read_text()
        except OSError:
            return ""


def _run(argv, input, timeout, check, env) -> subprocess.CompletedProcess:
    result = subprocess.run(argv, input=input if input is not None else b"", capture_output=True,
                            timeout=timeout, env=env)
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(argv)} exited {result.returncode}\nstdout: {result.stdout.decode(errors='replace')}\n"
            f"stderr: {result.stderr.decode(errors='replace')}")
    return result


def start_daemon(base: Path, extra_flags: Sequence[str] = ()) -> DaemonHandle:
    """A daemon on `base`; `extra_flags` are added to its command line (e.g. another -H)."""
    data_root = base / "data"
    exec_root = Path(tempfile.mkdtemp(prefix="dockyard-test-", dir="/run"))
    sock = base / "dockyard.sock"
    log = base / "daemon.log"
    flags, bridge_name, table = network_flags()
    process = subprocess.Popen(
        [str(BIN / "dockyardd"), "-H", f"unix://{sock}", "--data-root", str(data_root),
         "--exec-root", str(exec_root), "--log-file", str(log), "-D", *flags, *extra_flags],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    handle = DaemonHandle(f"unix://{sock}", sock, data_root, exec_root, log, process,
                          bridge=bridge_name, nft_table=table)
    wait_ready(handle)
    return handle


def network_flags() -> tuple[list[str], str, str]:
    """Daemon flags giving a test daemon a default bridge, subnets and nftables table of
    its own, so it never touches a real installation and can run beside one (and beside
    other test daemons). The daemon remembers them in its data root, so restarts without
    the flags keep them."""
    import secrets

    block = free_block()
    suffix = secrets.token_hex(3)
    bridge_name, table = f"dyt{suffix}", f"dyt_{suffix}"
    base = block.network_address
    flags = ["--bridge", bridge_name, "--bip", f"{base + 255 * 256 + 1}/24",
             "--default-address-pool", f"base={base}/17,size=24", "--nftables-table", table]
    return flags, bridge_name, table


def free_block():
    """A random 10.X.0.0/16 (X in 100..199) that no route of the host overlaps."""
    import ipaddress
    import secrets

    routes = subprocess.run(["ip", "-j", "-4", "route", "show", "table", "all"],
                            capture_output=True, text=True).stdout
    taken = []
    for route in json.loads(routes or "[]"):
        dst = route.get("dst", "")
        if dst and dst != "default" and not dst.startswith("127."):
            with contextlib.suppress(ValueError):
                taken.append(ipaddress.ip_network(dst if "/" in dst else dst + "/32", strict=False))
    for _ in range(200):
        block = ipaddress.ip_network(f"10.{100 + secrets.randbelow(100)}.0.0/16")
        if not any(block.overlaps(t) for t in taken):
            return block
    raise RuntimeError("no free 10.X.0.0/16 for a test daemon")


def wait_ready(handle: DaemonHandle, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if handle.process.poll() is not None:
            raise RuntimeError(f"daemon exited early:\n{handle.log_text()}")
        if handle.socket.exists():
            try:
                if handle.api("GET", "/_ping")[0] == 200:
                    return
            except OSError:
                pass
        time.sleep(0.05)
    raise RuntimeError(f"daemon did not answer within {timeout}s:\n{handle.log_text()}")


def stop_daemon(handle: DaemonHandle, *, remove_containers: bool = True) -> None:
    if remove_containers and handle.process.poll() is None:
        try:
            status, containers = handle.api("GET", "/containers/json?all=1")
            for c in containers if status == 200 else []:
                handle.api("DELETE", f"/containers/{c['Id']}?force=1&v=1")
        except OSError:
            pass
    if handle.process.poll() is None:
        handle.process.send_signal(signal.SIGTERM)
        try:
            handle.process.wait(10)
        except subprocess.TimeoutExpired:
            handle.process.kill()
            handle.process.wait()


def cleanup_roots(handle: DaemonHandle, base: Path) -> None:
    """Whatever the daemon left: monitors of its containers, mounts, runc state, files."""
    runc_root = handle.exec_root / "runc"
    if runc_root.exists():
        listed = subprocess.run(["runc", "--root", str(runc_root), "list", "-q"], capture_output=True, text=True)
        for cid in listed.stdout.split():
            subprocess.run(["runc", "--root", str(runc_root), "delete", "-f", cid], capture_output=True)
    subprocess.run(["pkill", "-f", f"conmon.*{handle.exec_root}"], capture_output=True)
    with open("/proc/mounts") as f:
        mounts = [line.split()[1] for line in f]
    for mount in sorted(mounts, key=len, reverse=True):
        if mount.startswith((str(base), str(handle.exec_root))):
            subprocess.run(["umount", "-l", mount], capture_output=True)
    shutil.rmtree(handle.exec_root, ignore_errors=True)
    shutil.rmtree(base, ignore_errors=True)
    cleanup_network(handle.nft_table)


def cleanup_network(table: str) -> None:
    """The bridges, nftables table and iptables accept rules of the daemon whose table
    is `table` (they outlive the daemon by design: running containers keep them)."""
    if not table:
        return
    import asyncio

    from dockyard.network import bridge, dockercompat
    from dockyard.network.netlink import Netlink

    with contextlib.suppress(OSError), Netlink() as nl:
        for name in bridge.own_bridges(nl, table):
            nl.delete_link(name)
    subprocess.run(["nft", "delete", "table", "inet", table], capture_output=True)
    with contextlib.suppress(Exception):
        asyncio.run(dockercompat.remove_all(table))




@contextlib.contextmanager
def running_daemon(extra_flags: Sequence[str] = ()) -> Iterator[DaemonHandle]:
    """A daemon on fresh temporary roots; everything it made is gone afterwards."""
    if os.geteuid() != 0 or not shutil.which("runc"):
        pytest.skip("needs root, runc and conmon")
    base = Path(tempfile.mkdtemp(prefix="dockyard-it-", dir="/var/tmp"))
    handle = start_daemon(base, extra_flags)
    try:
        yield handle
    finally:
        stop_daemon(handle)
        cleanup_roots(handle, base)


def restart_daemon(handle: DaemonHandle, *, kill: bool = False, extra_flags: Sequence[str] = ()) -> None:
    """Stop (SIGTERM, or SIGKILL with `kill`) and start the daemon again on the same roots,
    leaving its containers running; `extra_flags` are added to its command line."""
    if kill:
        handle.process.kill()
        handle.process.wait()
    else:
        stop_daemon(handle, remove_containers=False)
    handle.process = subprocess.Popen(
        [str(BIN / "dockyardd"), "-H", handle.host, "--data-root", str(handle.data_root),
         "--exec-root", str(handle.exec_root), "--log-file", str(handle.log), "-D", *extra_flags],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    wait_ready(handle)
