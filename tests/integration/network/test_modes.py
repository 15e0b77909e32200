# SPDX-License-Identifier: Apache-2.0
"""`--network host`, `--network none` and `--network container:<name|id>`."""

from __future__ import annotations

import json
import socket

from tests.integration.network.conftest import unique


def test_host_network(netd):
    name = unique("hostnet")
    out = netd.out("run", "--name", name, "--network", "host", "busybox", "sh", "-c",
                   "hostname; ip -o link show | cut -d: -f2; echo ==; cat /etc/hosts; echo ==; cat /etc/resolv.conf")
    try:
        hostname, rest = out.split("\n", 1)
        assert hostname == socket.gethostname()
        links, hosts, resolv = rest.split("==\n")
        assert netd.d.bridge in links  # the host's interfaces
        assert hosts == open("/etc/hosts").read()
        assert resolv == open("/etc/resolv.conf").read()
        doc = netd.inspect(name)
        assert list(doc["NetworkSettings"]["Networks"]) == ["host"]
        assert doc["Config"]["Hostname"] == socket.gethostname()
    finally:
        netd.cli("rm", "-f", name)
    # Running host-mode containers are listed on the host network.
    runner = unique("hostrun")
    cid = netd.run_d("--name", runner, "--network", "host", "busybox", "sleep", "30")
    try:
        members = json.loads(netd.out("network", "inspect", "host"))[0]["Containers"]
        assert members[cid]["Name"] == runner and members[cid]["IPv4Address"] == ""
        refused = netd.cli("network", "connect", "bridge", runner, check=False)
        assert "container cannot be disconnected from host network or connected to host network" in refused.stderr.decode()
    finally:
        netd.cli("rm", "-f", runner)


def test_none_network(netd):
    out = netd.out("run", "--rm", "--network", "none", "busybox", "sh", "-c",
                   "ip -o link show | cut -d: -f2 | tr -d ' '; ip -o -4 addr")
    assert out.split()[:1] == ["lo"] and "eth0" not in out
    assert "127.0.0.1/8" in out
    name = unique("none")
    netd.cli("create", "--name", name, "--network", "none", "busybox", "true")
    try:
        assert list(netd.inspect(name)["NetworkSettings"]["Networks"]) == ["none"]
        refused = netd.cli("network", "connect", "bridge", name, check=False)
        assert "private (none) mode" in refused.stderr.decode()
    finally:
        netd.cli("rm", "-f", name)


def test_container_network_mode(netd):
    owner = unique("owner")
    owner_id = netd.run_d("--name", owner, "busybox", "sh", "-c",
                          "mkdir /w && echo shared > /w/index.html && httpd -f -p 8081 -h /w")
    try:
        owner_doc = netd.inspect(owner)
        ip = owner_doc["NetworkSettings"]["IPAddress"]
        joiner = unique("joiner")
        out = netd.out("run", "--name", joiner, "--network", f"container:{owner}", "busybox", "sh", "-c",
                       "ip -o -4 addr show eth0; hostname; wget -q -O- http://127.0.0.1:8081/")
        assert ip in out and "shared" in out
        assert owner_doc["Config"]["Hostname"] in out
        doc = netd.inspect(joiner)
        assert doc["HostConfig"]["NetworkMode"] == f"container:{owner_id}"
        assert doc["HostsPath"] == owner_doc["HostsPath"] and doc["NetworkSettings"]["Networks"] == {}
        netd.cli("rm", "-f", joiner)
        for flags, message in [
            (["--hostname", "x"], "conflicting options: hostname and the network mode"),
            (["-p", "80:80"], "conflicting options: port publishing and the container type network mode"),
            (["--dns", "1.1.1.1"], "conflicting options: dns and the network mode"),
            (["--add-host", "a:1.2.3.4"], "conflicting options: custom host-to-IP mapping and the network mode"),
        ]:
            result = netd.cli("create", "--network", f"container:{owner}", *flags, "busybox", "true", check=False)
            assert message in result.stderr.decode(), (flags, result.stderr)
        missing = netd.cli("create", "--network", "container:no-such-ctr", "busybox", "true", check=False)
        assert "No such container: no-such-ctr" in missing.stderr.decode()
        # A stopped owner cannot be joined.
        netd.cli("stop", "-t", "0", owner)
        late = unique("late")
        result = netd.cli("run", "--name", late, "--network", f"container:{owner}", "busybox", "true", check=False)
        assert f"cannot join network of a non running container: {owner_id}" in result.stderr.decode()
        netd.cli("rm", "-f", late, check=False)
    finally:
        netd.cli("rm", "-f", owner)
