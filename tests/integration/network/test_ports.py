# SPDX-License-Identifier: Apache-2.0
"""Published ports: `-p` in its forms, `-P`, UDP, reaching a port from the host's
loopback and its own addresses, from other containers and from another host, Docker's
errors for ports in use, and no rules left behind."""

from __future__ import annotations

import json
import socket
import subprocess

import pytest

from tests.integration.network.conftest import (
    UDP_IMAGE,
    UDP_PORT,
    free_port,
    http_get,
    udp_echo,
    unique,
    wait_for,
)

HTTPD = "mkdir -p /w && echo {text} > /w/index.html && httpd -f -p 80 -h /w"


def _web(netd, *flags: str, text: str = "hello") -> str:
    name = unique("web")
    netd.run_d("--name", name, *flags, "busybox", "sh", "-c", HTTPD.format(text=text))
    return name


def _published(netd, name: str, port: str) -> list[dict]:
    return netd.inspect(name)["NetworkSettings"]["Ports"][port]


def _rules(netd) -> str:
    """The daemon's published-port maps (one `proto . port : address . port` per line)."""
    out = []
    for name in ("ports", "hostports"):
        listing = subprocess.run(["nft", "-j", "list", "map", "inet", netd.d.nft_table, name],
                                 capture_output=True, text=True, check=True).stdout
        for item in json.loads(listing)["nftables"]:
            for key, value in (item.get("map") or {}).get("elem") or []:
                out.append(" . ".join(map(str, key["concat"])) + " : " + " . ".join(map(str, value["concat"])))
    return "\n".join(sorted(out))


@pytest.fixture(autouse=True)
def _cleanup(netd):
    yield
    for cid in netd.out("ps", "-aq").split():
        netd.cli("rm", "-f", cid, check=False)


def test_publish_reachable_from_loopback_and_host_addresses(netd):
    port = free_port()
    name = _web(netd, "-p", f"{port}:80", "--expose", "8443")
    assert wait_for(lambda: http_get(f"http://127.0.0.1:{port}/")).strip() == "hello"
    # The host's own address on the bridge (the gateway) works too: kernel NAT on every
    # local address, not a proxy on one.
    assert http_get(f"http://{netd.gateway}:{port}/").strip() == "hello"
    ports = netd.inspect(name)["NetworkSettings"]["Ports"]
    assert ports == {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": str(port)}], "8443/tcp": None}
    assert netd.out("port", name).strip() == f"80/tcp -> 0.0.0.0:{port}"
    ip = netd.ip(name)
    assert f"tcp . {port} : {ip} . 80" in _rules(netd).split("\n")
    # The port is held: no host process can take it meanwhile.
    with socket.socket() as sock, pytest.raises(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("0.0.0.0", port))
    netd.cli("rm", "-f", name)
    with socket.socket() as sock:
        sock.bind(("0.0.0.0", port))  # released at once; the rule goes right after
    wait_for(lambda: f". {port} :" not in _rules(netd))


def test_publish_on_one_address_only(netd):
    port = free_port()
    _web(netd, "-p", f"127.0.0.1:{port}:80")
    assert wait_for(lambda: http_get(f"http://127.0.0.1:{port}/")).strip() == "hello"
    with pytest.raises(OSError):
        http_get(f"http://{netd.gateway}:{port}/", timeout=1)


def test_udp_port(netd):
    port, loopback_port = free_port(), free_port()
    name = unique("udp")
    netd.run_d("--name", name, "-p", f"{port}:{UDP_PORT}/udp", "-p", f"127.0.0.1:{loopback_port}:{UDP_PORT}/udp",
               UDP_IMAGE, "/udpecho")
    assert wait_for(lambda: udp_echo("127.0.0.1", port, b"one")) == b"one"
    assert udp_echo(netd.gateway, port, b"two") == b"two"
    assert udp_echo("127.0.0.1", loopback_port, b"three") == b"three"
    assert _published(netd, name, f"{UDP_PORT}/udp") == [
        {"HostIp": "0.0.0.0", "HostPort": str(port)}, {"HostIp": "127.0.0.1", "HostPort": str(loopback_port)}]


def test_publish_all_random_ports_and_ranges(netd):
    from dockyard.network.ports import ephemeral_port_range

    low, high = ephemeral_port_range()
    name = _web(netd, "-P", "--expose", "80", "--expose", "9000-9001", text="all")
    ports = netd.inspect(name)["NetworkSettings"]["Ports"]
    assert set(ports) == {"80/tcp", "9000/tcp", "9001/tcp"}
    chosen = [int(entries[0]["HostPort"]) for entries in ports.values()]
    assert all(low <= p <= high for p in chosen) and len(set(chosen)) == 3
    port80 = int(ports["80/tcp"][0]["HostPort"])
    assert wait_for(lambda: http_get(f"http://127.0.0.1:{port80}/")).strip() == "all"
    # A random host port (`-p 80`) and the first free port of a range.
    start = free_port()
    holder = socket.socket()
    try:
        holder.bind(("0.0.0.0", start))
        other = _web(netd, "-p", "80", "-p", f"{start}-{start + 20}:8080", text="other")
        ports = netd.inspect(other)["NetworkSettings"]["Ports"]
        assert low <= int(ports["80/tcp"][0]["HostPort"]) <= high
        picked = int(ports["8080/tcp"][0]["HostPort"])
        assert start < picked <= start + 20
    finally:
        holder.close()


def test_port_in_use_errors_leave_nothing_behind(netd):
    port = free_port()
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind(("0.0.0.0", port))
    holder.listen()
    try:
        before = _rules(netd)
        bridge_members = len(json.loads(netd.out("network", "inspect", "bridge"))[0]["Containers"])
        name = unique("busy")
        result = netd.cli("run", "-d", "--name", name, "-p", f"{port}:80", "busybox", "sleep", "30", check=False)
        assert result.returncode == 125
        message = result.stderr.decode()
        assert f"driver failed programming external connectivity on endpoint {name} (" in message
        assert f"listen tcp4 0.0.0.0:{port}: bind: address already in use" in message
        assert netd.inspect(name)["State"]["Status"] == "created"
        assert _rules(netd) == before
        assert len(json.loads(netd.out("network", "inspect", "bridge"))[0]["Containers"]) == bridge_members
        # `run --rm` removes the container whose start failed, as Docker does.
        gone = unique("gone")
        assert netd.cli("run", "--rm", "--name", gone, "-p", f"{port}:80", "busybox", "true",
                        check=False).returncode == 125
        assert netd.cli("inspect", gone, check=False).returncode != 0
    finally:
        holder.close()
    # Allocated to another container: Docker's "port is already allocated".
    first = _web(netd, "-p", f"{port}:80")
    del first
    second = unique("second")
    result = netd.cli("run", "-d", "--name", second, "-p", f"{port}:80", "busybox", "true", check=False)
    assert f"Bind for 0.0.0.0:{port} failed: port is already allocated" in result.stderr.decode()


def test_from_other_containers_and_hairpin(netd):
    port = free_port()
    name = _web(netd, "-p", f"{port}:80", text="via-host")
    net = unique("pnet")
    netd.cli("network", "create", net)
    try:
        client = unique("client")
        netd.run_d("--name", client, "--network", net, "busybox", "sleep", "60")
        gateway = netd.gateway_of(net)
        wait_for(lambda: http_get(f"http://127.0.0.1:{port}/"))
        # Another network's container, through the host's address on its own bridge.
        out = netd.out("exec", client, "wget", "-q", "-O-", f"http://{gateway}:{port}/")
        assert out.strip() == "via-host"
        # The container itself, through the host (hairpin).
        assert netd.out("exec", name, "wget", "-q", "-O-", f"http://{netd.gateway}:{port}/").strip() == "via-host"
    finally:
        netd.cli("rm", "-f", client, check=False)
        netd.cli("network", "rm", net, check=False)


def test_from_another_host_and_outbound_masquerade(netd, outside):
    port = free_port()
    _web(netd, "-p", f"{port}:80", text="from-afar")
    result = wait_for(lambda: outside.http_get(f"http://{outside.host_address}:{port}/").stdout)
    assert result.decode().strip() == "from-afar"
    # Outbound: the other host sees this host's address, not the container's.
    server = outside.serve_peer_address(8000)
    try:
        out = netd.out("run", "--rm", "busybox", "wget", "-q", "-O-", f"http://{outside.address}:8000/")
        assert out.strip() == outside.host_address
    finally:
        server.kill()
        server.wait()
    # Not published: the other host cannot open connections to a container at all.
    target = _web(netd, text="private")
    ip = netd.ip(target)
    outside.run("ip", "route", "add", str(netd.subnet), "via", outside.host_address)
    try:
        blocked = outside.http_get(f"http://{ip}/", timeout=1)
        assert blocked.returncode != 0
    finally:
        outside.run("ip", "route", "del", str(netd.subnet))
