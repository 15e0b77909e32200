# SPDX-License-Identifier: Apache-2.0
"""Networking test fixtures: a daemon per module (its own bridge, subnets and nftables
table, from tests/support/daemon.py), busybox and a UDP echo image in it, and `outside`,
a stand-in for another host: a network namespace linked to this host by a veth pair on
a /30 the test picks. Test traffic goes only to loopback, to container addresses on the
test daemon's bridges and to that stand-in."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.daemon import DaemonHandle, running_daemon
from tests.support.udpecho import image_tar

UDP_IMAGE = "udpecho:test"
UDP_PORT = 9999


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if Path(item.fspath).is_relative_to(here):
            item.add_marker(pytest.mark.requires_root)


@pytest.fixture(scope="module")
def netd():
    """A daemon for one test module, with busybox and the UDP echo image."""
    with running_daemon() as d:
        d.cli("pull", "-q", "busybox")
        d.cli("import", "-", UDP_IMAGE, input=image_tar(UDP_PORT))
        yield Net(d)


class Net:
    """A test daemon with the helpers network tests share."""

    def __init__(self, handle: DaemonHandle):
        self.d = handle
        bridge = json.loads(handle.cli("network", "inspect", "bridge").stdout)[0]
        config = bridge["IPAM"]["Config"][0]
        self.subnet = ipaddress.ip_network(config["Subnet"])
        self.gateway = config["Gateway"]
        # The daemon's addresses are a random 10.X.0.0/16 (tests/support/daemon.py).
        self.block = ipaddress.ip_network(f"{self.subnet.network_address}/16", strict=False)

    def cli(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        return self.d.cli(*args, **kwargs)

    def docker(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        return self.d.docker(*args, **kwargs)

    def out(self, *args: str, **kwargs) -> str:
        return self.d.cli(*args, **kwargs).stdout.decode()

    def run_d(self, *args: str) -> str:
        """`run -d ARGS`, the container removed after the module; returns its ID."""
        return self.out("run", "-d", *args).strip()

    def inspect(self, ref: str) -> dict:
        return json.loads(self.out("inspect", ref))[0]

    def ip(self, ref: str, network: str | None = None) -> str:
        settings = self.inspect(ref)["NetworkSettings"]
        if network is None:
            return settings["IPAddress"] or next(iter(settings["Networks"].values()))["IPAddress"]
        return settings["Networks"][network]["IPAddress"]

    def gateway_of(self, network: str) -> str:
        return json.loads(self.out("network", "inspect", network))[0]["IPAM"]["Config"][0]["Gateway"]


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


def http_get(url: str, timeout: float = 3) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read().decode()


def udp_echo(host: str, port: int, payload: bytes = b"ping", timeout: float = 2) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(payload, (host, port))
        return sock.recvfrom(2048)[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("0.0.0.0", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout: float = 5, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception:  # noqa: BLE001 - retried until the deadline
            if time.monotonic() >= deadline:
                raise
        if time.monotonic() >= deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)


@dataclass
class Outside:
    """Another host: `address` in its own namespace, reaching this host at `host_address`."""

    path: Path
    address: str
    host_address: str
    device: str

    def run(self, *argv: str, timeout: float = 10, check: bool = False) -> subprocess.CompletedProcess:
        return subprocess.run(["nsenter", f"--net={self.path}", *argv], capture_output=True,
                              timeout=timeout, check=check)

    def http_get(self, url: str, timeout: float = 3) -> subprocess.CompletedProcess:
        script = ("import sys, urllib.request; "
                  f"sys.stdout.write(urllib.request.urlopen({url!r}, timeout={timeout}).read().decode())")
        return self.run(sys.executable, "-c", script, timeout=timeout + 5)

    def serve_peer_address(self, port: int) -> subprocess.Popen:
        """An HTTP server that answers every request with the address it came from."""
        script = (
            "import http.server\n"
            "class H(http.server.BaseHTTPRequestHandler):\n"
            "    def do_GET(self):\n"
            "        body = self.client_address[0].encode()\n"
            "        self.send_response(200); self.send_header('Content-Length', str(len(body)))\n"
            "        self.end_headers(); self.wfile.write(body)\n"
            "    def log_message(self, *a): pass\n"
            f"http.server.HTTPServer(('0.0.0.0', {port}), H).serve_forever()\n"
        )
        process = subprocess.Popen(["nsenter", f"--net={self.path}", sys.executable, "-c", script],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        probe = f"import socket; socket.create_connection(('127.0.0.1', {port}), 1).close()"
        wait_for(lambda: self.run(sys.executable, "-c", probe).returncode == 0)
        return process


@pytest.fixture(scope="module")
def outside(netd):
    """A stand-in for another host on 10.X.200.0/30 (X: the test daemon's block)."""
    from dockyard.network import netns
    from dockyard.network.netlink import Netlink

    base = netd.block.network_address + 200 * 256
    host_if = ipaddress.IPv4Interface(f"{base + 1}/30")
    peer_if = ipaddress.IPv4Interface(f"{base + 2}/30")
    directory = Path(tempfile.mkdtemp(prefix="dyt-outside-", dir="/run"))
    path = directory / "ns"
    device = f"dyo{secrets.token_hex(3)}"
    ns = netns.create(path)
    try:
        with Netlink() as nl:
            fd = os.open(path, os.O_RDONLY)
            try:
                nl.add_veth(device, "eth0", peer_netns_fd=fd, master=None, mtu=1500)
            finally:
                os.close(fd)
            link = nl.link(device)
            nl.add_address(link.index, host_if)
            nl.set_link(link.index, up=True)
        eth0 = ns.netlink.link("eth0")
        ns.netlink.add_address(eth0.index, peer_if)
        ns.netlink.set_link(eth0.index, up=True)
        ns.netlink.add_default_route(host_if.ip, eth0.index)
        ns.close()
        yield Outside(path, str(peer_if.ip), str(host_if.ip), device)
    finally:
        with contextlib.suppress(OSError), Netlink() as nl:
            nl.delete_link(device)
        netns.remove(path)
        # netns.create made the directory a (shared) mount of its own.
        subprocess.run(["umount", "-l", str(directory)], capture_output=True)
        shutil.rmtree(directory, ignore_errors=True)

