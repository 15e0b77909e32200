# SPDX-License-Identifier: Apache-2.0
"""dockyard beside a real Docker engine that programs iptables (and so sets the FORWARD
policy to DROP): dockyard's containers still reach each other, another host and are
reached through published ports. And the same requests answered by both engines: the
networking JSON shapes and error messages match Docker 20.10's."""

from __future__ import annotations

import http.client
import json
import secrets
import socket
import subprocess

import pytest

from tests.integration.network.conftest import free_port, http_get, unique, wait_for
from tests.support.daemon import free_block
from tests.support.dockerd import running_dockerd


@pytest.fixture(scope="module")
def engine(netd):
    """Docker with a bridge and subnets of its own, and its iptables rules."""
    base = free_block().network_address
    with running_dockerd(bridge=f"dkt{secrets.token_hex(3)}", bip=f"{base + 255 * 256 + 1}/24",
                         iptables=True, pools=[f"base={base}/17,size=24"]) as docker:
        docker.docker("load", input=netd.d.cli("save", "busybox").stdout)
        # dockerd sets this itself when it has to turn IP forwarding on (forwarding is on
        # here already); the table is this dockerd's, removed with it.
        subprocess.run(["iptables", "-w", "-P", "FORWARD", "DROP"], check=True)
        yield docker


def _iptables(*args: str) -> str:
    return subprocess.run(["iptables", "-w", *args], capture_output=True, text=True).stdout


def test_forward_drop_policy_does_not_cut_dockyard_off(netd, engine, outside):
    assert "-P FORWARD DROP" in _iptables("-S", "FORWARD")  # what makes this test matter
    tag = f"dockyard:{netd.d.nft_table}"
    # dockyard notices the new chain and lets its bridges' traffic through it.
    wait_for(lambda: tag in _iptables("-S", "DOCKER-USER") and netd.d.bridge in _iptables("-S", "DOCKER-USER"))
    a, b = unique("fa"), unique("fb")
    netd.run_d("--name", a, "busybox", "sleep", "60")
    port = free_port()
    netd.run_d("--name", b, "-p", f"{port}:80", "busybox", "sh", "-c",
               "mkdir /w && echo beside-docker > /w/index.html && httpd -f -p 80 -h /w")
    try:
        # Each other (bridged traffic passes the FORWARD hook here: br_netfilter).
        assert netd.cli("exec", a, "ping", "-c1", "-W2", netd.ip(b)).returncode == 0
        # The outside, and from the outside through a published port.
        server = outside.serve_peer_address(8001)
        try:
            out = netd.out("exec", a, "wget", "-q", "-O-", f"http://{outside.address}:8001/")
            assert out.strip() == outside.host_address
        finally:
            server.kill()
            server.wait()
        got = wait_for(lambda: outside.http_get(f"http://{outside.host_address}:{port}/").stdout)
        assert got.decode().strip() == "beside-docker"
        assert http_get(f"http://127.0.0.1:{port}/").strip() == "beside-docker"
        # Docker's own containers work too.
        assert engine.docker("run", "--rm", "busybox", "true").returncode == 0
    finally:
        netd.cli("rm", "-f", a, b)


def test_networking_shapes_match_docker(netd, engine):
    net = unique("diff")
    for daemon in (netd.d.docker, engine.docker):
        daemon("network", "create", "--label", "k=v", net)
        daemon("run", "-d", "--name", net + "-c", "--network", net, "--network-alias", "alias1",
               "--expose", "90", "-p", f"{free_port()}:80", "busybox", "sleep", "60")
    try:
        ours = _api(netd.d.socket, "GET", f"/containers/{net}-c/json")[1]
        theirs = _api(engine.base / "docker.sock", "GET", f"/containers/{net}-c/json")[1]
        assert list(ours["NetworkSettings"]) == list(theirs["NetworkSettings"])
        ours_ep, theirs_ep = ours["NetworkSettings"]["Networks"][net], theirs["NetworkSettings"]["Networks"][net]
        assert list(ours_ep) == list(theirs_ep)
        assert ours_ep["Aliases"] == ["alias1", ours["Id"][:12]]
        assert theirs_ep["Aliases"] == ["alias1", theirs["Id"][:12]]
        assert ours["NetworkSettings"]["IPAddress"] == theirs["NetworkSettings"]["IPAddress"] == ""
        # Docker 20.10 adds an IPv6 binding ("::") when the host has IPv6; dockyard is IPv4-only.
        assert ours["NetworkSettings"]["Ports"]["90/tcp"] is None
        assert {(p["HostIp"]) for p in theirs["NetworkSettings"]["Ports"]["80/tcp"]} >= \
            {p["HostIp"] for p in ours["NetworkSettings"]["Ports"]["80/tcp"]}
        ours_net = _api(netd.d.socket, "GET", f"/networks/{net}")[1]
        theirs_net = _api(engine.base / "docker.sock", "GET", f"/networks/{net}")[1]
        assert list(ours_net) == list(theirs_net)
        assert ours_net["Labels"] == theirs_net["Labels"] == {"k": "v"}
        assert list(ours_net["IPAM"]) == list(theirs_net["IPAM"])
        assert list(next(iter(ours_net["Containers"].values()))) == \
            list(next(iter(theirs_net["Containers"].values())))
        listed = {n["Name"]: n for n in _api(netd.d.socket, "GET", "/networks")[1]}
        assert listed[net]["Containers"] == {}
        # The same mistakes, the same answers.
        for method, path, body in [
            ("DELETE", f"/networks/{net}", None),
            ("POST", "/networks/create", {"Name": net, "CheckDuplicate": True}),
            ("DELETE", "/networks/bridge", None),
            ("DELETE", "/networks/no-such-network", None),
            ("POST", f"/networks/{net}/connect", {"Container": net + "-c"}),
            ("POST", "/networks/host/connect", {"Container": net + "-c"}),
            ("POST", "/networks/bridge/connect",
             {"Container": net + "-c", "EndpointConfig": {"IPAMConfig": {"IPv4Address": "10.0.0.9"}}}),
            ("POST", "/networks/bridge/connect",
             {"Container": net + "-c", "EndpointConfig": {"Aliases": ["nope"]}}),
            ("POST", "/networks/none/connect", {"Container": net + "-c"}),
            ("POST", "/networks/no-such-network/connect", {"Container": net + "-c"}),
            ("POST", "/networks/bridge/connect", {"Container": "no-such-container"}),
        ]:
            status_ours, answer_ours = _api(netd.d.socket, method, path, body)
            status_theirs, answer_theirs = _api(engine.base / "docker.sock", method, path, body)
            assert status_ours == status_theirs, (path, body, answer_ours, answer_theirs)
            assert _normal(answer_ours["message"], ours) == _normal(answer_theirs["message"], theirs), path
    finally:
        for daemon in (netd.d.docker, engine.docker):
            daemon("rm", "-f", net + "-c", check=False)
            daemon("network", "rm", net, check=False)


def _normal(message: str, container: dict) -> str:
    """A message with the engine-specific IDs taken out."""
    message = message.replace(container["Id"], "<cid>")
    for network in container["NetworkSettings"]["Networks"].values():
        if network.get("NetworkID"):
            message = message.replace(network["NetworkID"], "<nid>")
    return message.strip()


def _api(path, method: str, url: str, body: dict | None = None):
    class Connection(http.client.HTTPConnection):
        def connect(self):
            self.sock = socket.socket(socket.AF_UNIX)
            self.sock.connect(str(path))

    conn = Connection("localhost", timeout=30)
    data = json.dumps(body).encode() if body is not None else None
    conn.request(method, "/v1.41" + url, data, {"Content-Type": "application/json"} if data else {})
    response = conn.getresponse()
    raw = response.read()
    conn.close()
    return response.status, json.loads(raw) if raw.strip() else None
