# SPDX-License-Identifier: Apache-2.0
"""User-defined networks: the network verbs and their errors, the embedded DNS server
(names, aliases, short IDs, round robin, forwarding), isolation between networks,
`--internal`, and connect/disconnect of running containers."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import secrets
import socket
import struct
import subprocess
import threading

import pytest

from tests.integration.network.conftest import unique


@pytest.fixture
def net(netd):
    """A fresh user network, removed (with its containers) afterwards."""
    name = unique("net")
    netd.cli("network", "create", name)
    yield name
    _remove_network(netd, name)


def _remove_network(netd, name: str) -> None:
    doc = json.loads(netd.out("network", "inspect", name, check=False) or "[]")
    for cid in (doc[0]["Containers"] if doc else {}):
        netd.cli("rm", "-f", cid, check=False)
    netd.cli("network", "rm", name, check=False)


def test_create_ls_inspect_rm(netd):
    name = unique("verbs")
    subnet = str(netd.block.network_address + 150 * 256) + "/24"
    gateway = str(netd.block.network_address + 150 * 256 + 254)
    ip_range = str(netd.block.network_address + 150 * 256 + 128) + "/25"
    net_id = netd.out("network", "create", "--subnet", subnet, "--gateway", gateway, "--ip-range", ip_range,
                      "--label", "team=blue", "--attachable", "-o", "com.docker.network.driver.mtu=1280",
                      "-o", f"com.docker.network.bridge.name=dyb{net_id_suffix(name)}", name).strip()
    try:
        assert len(net_id) == 64
        doc = json.loads(netd.out("network", "inspect", name))[0]
        assert doc["Id"] == net_id and doc["Driver"] == "bridge" and doc["Scope"] == "local"
        assert doc["IPAM"]["Config"] == [{"Subnet": subnet, "IPRange": ip_range, "Gateway": gateway}]
        assert doc["Labels"] == {"team": "blue"} and doc["Attachable"] is True
        device = doc["Options"]["com.docker.network.bridge.name"]
        link = json.loads(subprocess.run(["ip", "-j", "-d", "link", "show", device], capture_output=True,
                                         text=True, check=True).stdout)[0]
        assert link["mtu"] == 1280
        # Containers get addresses from the range, the network's MTU and gateway.
        out = netd.out("run", "--rm", "--network", name, "busybox", "sh", "-c",
                       "ip -o -4 addr show eth0; cat /sys/class/net/eth0/mtu; ip route")
        address = ipaddress.ip_interface(out.split()[3])
        assert address.ip in ipaddress.ip_network(ip_range) and "1280" in out
        assert f"default via {gateway}" in out
        assert netd.out("network", "ls", "-q", "--filter", f"name={name}").split() == [net_id[:12]]
        assert netd.out("network", "ls", "--filter", "label=team=blue", "--format", "{{.Name}}").split() == [name]
        assert name not in netd.out("network", "ls", "--filter", "type=builtin")
        assert netd.out("network", "rm", name).strip() == name
        assert device not in subprocess.run(["ip", "-br", "link"], capture_output=True, text=True).stdout
    finally:
        netd.cli("network", "rm", name, check=False)


def net_id_suffix(name: str) -> str:
    return name[-6:]


def test_bad_input_gives_clear_errors_and_no_state(netd, net):
    subnet = json.loads(netd.out("network", "inspect", net))[0]["IPAM"]["Config"][0]["Subnet"]
    before = netd.out("network", "ls", "-q")
    cases = [
        (["network", "create", "--subnet", subnet, unique("ovl")], "Pool overlaps with other one on this address space"),
        (["network", "create", "--subnet", str(netd.subnet), unique("ovl")], "Pool overlaps"),
        (["network", "create", "--subnet", "10.300.0.0/16", unique("bad")], "invalid CIDR address: 10.300.0.0/16"),
        (["network", "create", "--subnet", "10.251.0.5/16", unique("bad")], "invalid subnet 10.251.0.5/16"),
        (["network", "create", "--subnet", "10.251.0.0/24", "--gateway", "10.252.0.1", unique("bad")],
         "no matching subnet for gateway 10.252.0.1"),
        (["network", "create", net], f"network with name {net} already exists"),
        (["network", "create", "bridge"], "operation is not permitted on predefined bridge network"),
        (["network", "create", "-d", "overlay2x", unique("drv")], 'plugin "overlay2x" not found'),
        (["network", "create", "-o", "com.docker.network.driver.mtu=abc", unique("mtu")],
         "failed to parse com.docker.network.driver.mtu value: abc"),
        (["network", "rm", "bridge"], "bridge is a pre-defined network and cannot be removed"),
        (["network", "rm", "no-such-net"], "network no-such-net not found"),
        (["network", "inspect", "no-such-net"], "network no-such-net not found"),
        (["run", "--rm", "--network", "no-such-net", "busybox", "true"], "network no-such-net not found"),
        (["run", "--rm", "--ip", "10.1.2.3", "busybox", "true"],
         "user specified IP address is supported on user defined networks only"),
        (["run", "--rm", "--network", net, "--ip", "10.1.2.3", "busybox", "true"],
         "user specified IP address is supported only when connecting to networks with user configured subnets"),
    ]
    for argv, message in cases:
        result = netd.cli(*argv, check=False)
        assert result.returncode != 0, argv
        assert message in result.stderr.decode(), (argv, result.stderr)
    assert netd.out("network", "ls", "-q") == before
    # A network with running containers cannot go; one with only stopped ones can.
    netd.run_d("--name", unique("inuse"), "--network", net, "busybox", "sleep", "60")
    result = netd.cli("network", "rm", net, check=False)
    assert result.returncode == 1
    assert "has active endpoints" in result.stderr.decode()


def test_malformed_port_specs_are_refused(netd):
    for bindings, message in [({"abc/tcp": [{"HostPort": "1"}]}, 'invalid port specification: "abc"'),
                              ({"80/tcp": [{"HostPort": "99999"}]}, 'invalid port specification: "99999"'),
                              ({"80/tcp": [{"HostPort": "9-1"}]}, 'invalid port specification: "9-1"'),
                              ({"80/xyz": [{"HostPort": "1"}]}, 'invalid proto "xyz"'),
                              ({"80/tcp": [{"HostIp": "1.2.3", "HostPort": "1"}]}, "invalid IP address")]:
        status, answer = netd.d.api("POST", "/containers/create",
                                    {"Image": "busybox", "Cmd": ["true"], "HostConfig": {"PortBindings": bindings}})
        assert status == 400 and message in answer["message"], (bindings, answer)
    status, answer = netd.d.api("POST", "/containers/create",
                                {"Image": "busybox", "HostConfig": {"ExtraHosts": ["nocolon"]}})
    assert status == 400 and answer["message"] == 'bad format for add-host: "nocolon"'


def test_dns_names_aliases_short_ids_and_round_robin(netd, net):
    web1, web2, client = unique("web"), unique("web"), unique("client")
    id1 = netd.run_d("--name", web1, "--network", net, "--network-alias", "svc", "busybox", "sleep", "60")
    netd.run_d("--name", web2, "--network", net, "--network-alias", "svc", "busybox", "sleep", "60")
    netd.run_d("--name", client, "--network", net, "busybox", "sleep", "60")
    ip1, ip2 = netd.ip(web1, net), netd.ip(web2, net)
    resolv = netd.out("exec", client, "cat", "/etc/resolv.conf")
    assert "nameserver 127.0.0.11" in resolv and "options ndots:0" in resolv

    def lookup(name: str) -> list[str]:
        out = netd.out("exec", client, "nslookup", "-type=A", name, check=False)
        return [line.split()[-1] for line in out.split("Non-authoritative answer:")[-1].splitlines()
                if line.startswith("Address")]

    assert lookup(web1) == [ip1]
    assert lookup(id1[:12]) == [ip1]
    assert lookup(f"{web1}.{net}") == [ip1]
    assert lookup(web1.upper()) == [ip1]
    first, second = lookup("svc"), lookup("svc")
    assert sorted(first) == sorted([ip1, ip2]) and first != second  # rotated
    assert netd.cli("exec", client, "ping", "-c1", "-W2", web2).returncode == 0
    aliases = netd.inspect(web1)["NetworkSettings"]["Networks"][net]["Aliases"]
    assert aliases == ["svc", id1[:12]]
    # AAAA: an empty answer for a known name (IPv4-only networks), not a forwarded query.
    out = netd.out("exec", client, "nslookup", "-type=AAAA", web1, check=False)
    assert "NXDOMAIN" not in out and "can't find" not in out
    ptr = netd.out("exec", client, "nslookup", ip1, check=False)
    assert f"{web1}.{net}" in ptr
    # A renamed container answers to its new name.
    netd.cli("rename", web1, web1 + "-renamed")
    assert lookup(web1 + "-renamed") == [ip1]


def test_dns_forwards_other_names_to_upstreams_even_on_loopback(netd, net):
    """Names that are no container's go to the container's --dns servers, from the
    host's namespace — so a 127.0.0.x resolver (like a host's stub) works."""
    upstream = f"127.77.{secrets.randbelow(250) + 1}.{secrets.randbelow(250) + 1}"
    with _FakeDNS(upstream, "forwarded.example.", "10.55.66.77") as fake:
        name = unique("fwd")
        netd.run_d("--name", name, "--network", net, "--dns", upstream, "busybox", "sleep", "60")
        out = netd.out("exec", name, "nslookup", "-type=A", "forwarded.example", check=False)
        assert "10.55.66.77" in out, out
        assert fake.queries >= 1
        # Over TCP too (the resolver's fallback for long answers).
        assert _tcp_query(netd, name, "forwarded.example") == "10.55.66.77"
        assert _tcp_query(netd, name, name) == netd.ip(name, net)
        # The upstream's NXDOMAIN comes back as it is.
        out = netd.out("exec", name, "nslookup", "-type=A", "missing.example", check=False)
        assert "NXDOMAIN" in out or "can't find" in out


def test_isolation_between_networks(netd, net):
    other = unique("other")
    netd.cli("network", "create", other)
    try:
        a, b = unique("iso-a"), unique("iso-b")
        # --dns 127.0.0.1: names that are no container's go nowhere but loopback.
        netd.run_d("--name", a, "--network", net, "--dns", "127.0.0.1", "busybox", "sleep", "60")
        netd.run_d("--name", b, "--network", other, "busybox", "sh", "-c",
                   "mkdir /w && echo secret > /w/index.html && httpd -f -p 80 -h /w")
        ip_b = netd.ip(b, other)
        # Not by address, not by name.
        assert netd.cli("exec", a, "ping", "-c1", "-W1", ip_b, check=False).returncode != 0
        assert netd.cli("exec", a, "timeout", "1", "wget", "-q", "-O-", f"http://{ip_b}/", check=False).returncode != 0
        assert ip_b not in netd.out("exec", a, "nslookup", "-type=A", b, check=False)
        # Connected to both, a container reaches both.
        netd.cli("network", "connect", other, a)
        assert netd.out("exec", a, "timeout", "3", "wget", "-q", "-O-", f"http://{b}/").strip() == "secret"
    finally:
        _remove_network(netd, other)


def test_internal_network_has_no_way_out(netd, outside):
    internal = unique("int")
    netd.cli("network", "create", "--internal", internal)
    try:
        a, b = unique("in-a"), unique("in-b")
        netd.run_d("--name", a, "--network", internal, "busybox", "sleep", "60")
        netd.run_d("--name", b, "--network", internal, "busybox", "sleep", "60")
        # As with dockerd, the container has a default route via the gateway, and the host
        # forwards nothing out of the network through it.
        gateway = netd.gateway_of(internal)
        assert f"default via {gateway}" in netd.out("exec", a, "ip", "route")
        assert netd.cli("exec", a, "ping", "-c1", "-W2", b).returncode == 0
        assert netd.cli("exec", a, "ping", "-c1", "-W1", outside.address, check=False).returncode != 0
        assert json.loads(netd.out("network", "inspect", internal))[0]["Internal"] is True
    finally:
        _remove_network(netd, internal)


def test_connect_disconnect_running_container(netd, net):
    second = unique("second")
    netd.cli("network", "create", second)
    try:
        a, b = unique("cd-a"), unique("cd-b")
        netd.run_d("--name", a, "--network", net, "busybox", "sleep", "60")
        netd.run_d("--name", b, "--network", second, "--dns", "127.0.0.1", "busybox", "sleep", "60")
        netd.cli("network", "connect", "--alias", "extra", second, a)
        doc = netd.inspect(a)["NetworkSettings"]["Networks"]
        assert set(doc) == {net, second} and doc[second]["Aliases"][0] == "extra"
        interfaces = netd.out("exec", a, "ip", "-o", "-4", "addr")
        assert "eth1" in interfaces and doc[second]["IPAddress"] in interfaces
        assert netd.cli("exec", b, "ping", "-c1", "-W2", "extra").returncode == 0
        members = json.loads(netd.out("network", "inspect", second))[0]["Containers"]
        assert {m["Name"] for m in members.values()} == {a, b}
        again = netd.cli("network", "connect", second, a, check=False)
        assert f"endpoint with name {a} already exists in network {second}" in again.stderr.decode()
        netd.cli("network", "disconnect", second, a)
        assert "eth1" not in netd.out("exec", a, "ip", "-o", "-4", "addr")
        assert netd.cli("exec", b, "ping", "-c1", "-W1", a, check=False).returncode != 0
        assert set(netd.inspect(a)["NetworkSettings"]["Networks"]) == {net}
        missing = netd.cli("network", "disconnect", second, a, check=False)
        assert "is not connected to network" in missing.stderr.decode()
        # A static address on a network with a configured subnet.
        static_net = unique("static")
        subnet = netd.block.network_address + 151 * 256
        netd.cli("network", "create", "--subnet", f"{subnet}/24", static_net)
        try:
            netd.cli("network", "connect", "--ip", str(subnet + 77), static_net, a)
            assert str(subnet + 77) in netd.out("exec", a, "ip", "-o", "-4", "addr")
            taken = netd.cli("run", "--rm", "--network", static_net, "--ip", str(subnet + 77), "busybox", "true",
                             check=False)
            assert "Address already in use" in taken.stderr.decode()
        finally:
            _remove_network(netd, static_net)
    finally:
        _remove_network(netd, second)


def test_connect_created_container_then_start(netd, net):
    name = unique("later")
    netd.cli("create", "--name", name, "busybox", "sleep", "60")
    try:
        netd.cli("network", "connect", net, name)
        assert set(netd.inspect(name)["NetworkSettings"]["Networks"]) == {"bridge", net}
        netd.cli("start", name)
        out = netd.out("exec", name, "ip", "-o", "-4", "addr")
        assert netd.ip(name, net) in out and netd.ip(name, "bridge") in out
        # On a user network now: the embedded server answers (the default route stays on
        # "bridge", which sorts first, as in Docker).
        assert "nameserver 127.0.0.11" in netd.out("exec", name, "cat", "/etc/resolv.conf")
    finally:
        netd.cli("rm", "-f", name)


def test_disconnect_force_drops_a_removed_network(netd):
    gone, name = unique("gone"), unique("stale")
    netd.cli("network", "create", gone)
    netd.cli("create", "--name", name, "--network", gone, "busybox", "true")
    try:
        netd.cli("network", "rm", gone)  # only a stopped container on it: allowed, as in Docker
        assert netd.cli("network", "disconnect", gone, name, check=False).returncode == 1
        netd.cli("network", "disconnect", "-f", gone, name)
        assert netd.inspect(name)["NetworkSettings"]["Networks"] == {}
    finally:
        netd.cli("rm", "-f", name)


def test_prune_removes_unused_networks_only(netd):
    used, unused = unique("used"), unique("unused")
    netd.cli("network", "create", used)
    netd.cli("network", "create", "--label", "prune=me", unused)
    try:
        netd.run_d("--name", unique("keep"), "--network", used, "busybox", "sleep", "60")
        out = netd.out("network", "prune", "-f", "--filter", "label=prune=me")
        assert out == f"Deleted Networks:\n{unused}\n\n"
        names = netd.out("network", "ls", "--format", "{{.Name}}").split()
        assert used in names and unused not in names
    finally:
        _remove_network(netd, used)
        netd.cli("network", "rm", unused, check=False)


def test_seed_redmine_scenario_with_stand_ins(netd):
    """The seed's walkthrough: a user network, a database reached by name, a web app
    published on 3000 — busybox stand-ins for mysql and redmine."""
    network = unique("redmine-network")
    port = _free_port()
    netd.cli("network", "create", network)
    try:
        mysql, redmine = unique("some-mysql"), unique("some-redmine")
        netd.run_d("--name", mysql, "--network", network, "-e", "MYSQL_ROOT_PASSWORD=my-secret-pw",
                   "busybox", "nc", "-ll", "-p", "3306", "-e", "echo", "mysql-handshake")
        script = ("mkdir -p /www/cgi-bin && "
                  "printf '#!/bin/sh\\necho Content-Type: text/plain\\necho\\nnc $REDMINE_DB_MYSQL 3306\\n' "
                  "> /www/cgi-bin/db && chmod +x /www/cgi-bin/db && httpd -f -p 3000 -h /www")
        netd.run_d("--name", redmine, "--network", network, "-e", f"REDMINE_DB_MYSQL={mysql}",
                   "-p", f"{port}:3000", "busybox", "sh", "-c", script)
        from tests.integration.network.conftest import http_get, wait_for

        body = wait_for(lambda: http_get(f"http://127.0.0.1:{port}/cgi-bin/db"))
        assert body.strip() == "mysql-handshake"
        assert network in netd.out("network", "ls")
    finally:
        _remove_network(netd, network)


def _free_port() -> int:
    from tests.integration.network.conftest import free_port

    return free_port()


def _tcp_query(netd, container: str, name: str) -> str:
    """A DNS query over TCP to the embedded server, from inside the container: busybox
    has no TCP DNS client, so the daemon-side answer is checked through nc."""
    query = _query_bytes(name)
    framed = struct.pack("!H", len(query)) + query
    result = netd.cli("exec", "-i", container, "nc", "-w", "2", "127.0.0.11", "53", input=framed, check=False)
    data = result.stdout
    if len(data) < 2:
        return ""
    reply = data[2:]
    return _first_a(reply)


def _query_bytes(name: str) -> bytes:
    header = struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return header + labels + struct.pack("!HH", 1, 1)


def _first_a(reply: bytes) -> str:
    if len(reply) < 12:
        return ""
    ancount = struct.unpack("!H", reply[6:8])[0]
    offset = 12
    while reply[offset]:
        offset += reply[offset] + 1
    offset += 5
    found = []
    for _ in range(ancount):
        if reply[offset] & 0xC0:
            offset += 2
        else:
            while reply[offset]:
                offset += reply[offset] + 1
            offset += 1
        rtype, _, _, length = struct.unpack("!HHIH", reply[offset:offset + 10])
        offset += 10
        if rtype == 1:
            found.append(socket.inet_ntoa(reply[offset:offset + length]))
        offset += length
    return " ".join(found)


class _FakeDNS:
    """A one-name DNS server (UDP and TCP) on a loopback address, like a host's stub."""

    def __init__(self, address: str, name: str, answer: str):
        self.address, self.name, self.answer = address, name, answer
        self.queries = 0
        self._udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._tcp = socket.socket()
        self._tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._stop = False

    def __enter__(self) -> _FakeDNS:
        self._udp.bind((self.address, 53))
        self._tcp.bind((self.address, 53))
        self._tcp.listen()
        self._udp.settimeout(0.2)
        self._tcp.settimeout(0.2)
        self._threads = [threading.Thread(target=self._serve_udp, daemon=True),
                         threading.Thread(target=self._serve_tcp, daemon=True)]
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop = True
        for t in self._threads:
            t.join(2)
        self._udp.close()
        self._tcp.close()

    def _reply(self, query: bytes) -> bytes:
        self.queries += 1
        end = 12
        while query[end]:
            end += query[end] + 1
        question = query[12:end + 5]
        qname = ".".join(query[i + 1:i + 1 + query[i]].decode()
                         for i in _label_offsets(query, 12)) + "."
        answers = b""
        count = 0
        if qname == self.name and question[-4:-2] == b"\x00\x01":
            answers = struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4) + socket.inet_aton(self.answer)
            count = 1
        rcode = 0 if count or qname == self.name else 3
        header = query[:2] + struct.pack("!HHHHH", 0x8180 | rcode, 1, count, 0, 0)
        return header + question + answers

    def _serve_udp(self) -> None:
        while not self._stop:
            try:
                data, peer = self._udp.recvfrom(2048)
            except OSError:
                continue
            with contextlib.suppress(Exception):
                self._udp.sendto(self._reply(data), peer)

    def _serve_tcp(self) -> None:
        while not self._stop:
            try:
                conn, _ = self._tcp.accept()
            except OSError:
                continue
            with conn, contextlib.suppress(Exception):
                conn.settimeout(2)
                size = struct.unpack("!H", conn.recv(2))[0]
                data = b""
                while len(data) < size:
                    data += conn.recv(size - len(data))
                reply = self._reply(data)
                conn.sendall(struct.pack("!H", len(reply)) + reply)


def _label_offsets(data: bytes, offset: int):
    while data[offset]:
        yield offset
        offset += data[offset] + 1
