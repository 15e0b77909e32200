# SPDX-License-Identifier: Apache-2.0
"""The default `bridge` network: addresses, routes, MTU, the /etc files, reaching other
containers by address but not by name, and the inspect shapes of Docker 20.10."""

from __future__ import annotations

import ipaddress
import json
import re

from tests.integration.network.conftest import unique

# NetworkSettings of a running container on the default bridge, as Docker 20.10 has it.
SETTINGS_KEYS = ["Bridge", "SandboxID", "HairpinMode", "LinkLocalIPv6Address", "LinkLocalIPv6PrefixLen",
                 "Ports", "SandboxKey", "SecondaryIPAddresses", "SecondaryIPv6Addresses", "EndpointID",
                 "Gateway", "GlobalIPv6Address", "GlobalIPv6PrefixLen", "IPAddress", "IPPrefixLen",
                 "IPv6Gateway", "MacAddress", "Networks"]
ENDPOINT_KEYS = ["IPAMConfig", "Links", "Aliases", "NetworkID", "EndpointID", "Gateway", "IPAddress",
                 "IPPrefixLen", "IPv6Gateway", "GlobalIPv6Address", "GlobalIPv6PrefixLen", "MacAddress",
                 "DriverOpts"]


def test_predefined_networks(netd):
    rows = netd.out("network", "ls", "--format", "{{.Name}} {{.Driver}} {{.Scope}}").split("\n")
    assert {"bridge bridge local", "host host local", "none null local"} <= set(rows)
    bridge = json.loads(netd.out("network", "inspect", "bridge"))[0]
    options = bridge["Options"]
    assert options["com.docker.network.bridge.name"] == netd.d.bridge
    assert options["com.docker.network.bridge.default_bridge"] == "true"
    assert bridge["IPAM"]["Config"] == [{"Subnet": str(netd.subnet), "Gateway": netd.gateway}]
    # A bridge's MTU follows the uplink when that is below 1500.
    uplink = _uplink_mtu()
    assert options["com.docker.network.driver.mtu"] == str(min(1500, uplink or 1500))
    for name in ("host", "none"):
        doc = json.loads(netd.out("network", "inspect", name))[0]
        assert doc["IPAM"] == {"Driver": "default", "Options": None, "Config": []}
        assert doc["Options"] == {}


def test_container_address_route_and_files(netd):
    name = unique("addr")
    out = netd.out("run", "--rm", "--name", name, "busybox", "sh", "-c",
                   "ip -o -4 addr show eth0; ip route; cat /sys/class/net/eth0/mtu; echo ==; "
                   "cat /etc/hosts; echo ==; cat /etc/resolv.conf; echo ==; hostname")
    addr, rest = out.split("\n", 1)
    ip = ipaddress.ip_interface(re.search(r"inet (\S+)", addr).group(1))
    assert ip.network == netd.subnet and ip.ip != ipaddress.ip_address(netd.gateway)
    assert f"default via {netd.gateway} dev eth0" in rest
    mtu = int(rest.split("\n")[2])
    assert mtu == min(1500, _uplink_mtu() or 1500)
    hosts, resolv, hostname = rest.split("==\n")[1:4]
    assert hosts.startswith("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
    assert hosts.rstrip("\n").split("\n")[-1] == f"{ip.ip}\t{hostname.strip()}"
    host_servers = [line.split()[1] for line in open("/etc/resolv.conf") if line.startswith("nameserver")]
    usable = [s for s in host_servers if not ipaddress.ip_address(s).is_loopback]
    servers = [line.split()[1] for line in resolv.splitlines() if line.startswith("nameserver")]
    assert servers == (usable or ["127.0.0.11"])


def test_reach_by_address_not_by_name(netd):
    a, b = unique("ba"), unique("bb")
    netd.run_d("--name", a, "busybox", "sleep", "60")
    # --dns 127.0.0.1: the failing name lookup below must not leave the host.
    netd.run_d("--name", b, "--dns", "127.0.0.1", "busybox", "sleep", "60")
    try:
        ip_a = netd.ip(a)
        assert netd.cli("exec", b, "ping", "-c1", "-W2", ip_a).returncode == 0
        # Docker's default bridge resolves no container names.
        assert netd.cli("exec", b, "ping", "-c1", "-W1", a, check=False).returncode != 0
    finally:
        netd.cli("rm", "-f", a, b)


def test_inspect_shapes_running_and_stopped(netd):
    name = unique("shape")
    cid = netd.run_d("--name", name, "busybox", "sleep", "60")
    try:
        running = netd.inspect(name)["NetworkSettings"]
        assert list(running) == SETTINGS_KEYS
        endpoint = running["Networks"]["bridge"]
        assert list(endpoint) == ENDPOINT_KEYS
        bridge_id = json.loads(netd.out("network", "inspect", "bridge"))[0]["Id"]
        assert endpoint["NetworkID"] == bridge_id
        assert endpoint["Aliases"] is None and endpoint["IPAMConfig"] is None
        assert running["IPAddress"] == endpoint["IPAddress"] and running["Gateway"] == netd.gateway
        assert running["MacAddress"] == "02:42:" + ":".join(f"{int(o):02x}" for o in endpoint["IPAddress"].split("."))
        assert running["SandboxKey"].endswith("/netns/" + running["SandboxID"][:12])
        assert len(running["EndpointID"]) == 64 and running["EndpointID"] == endpoint["EndpointID"]
        members = json.loads(netd.out("network", "inspect", "bridge"))[0]["Containers"]
        assert members[cid] == {"Name": name, "EndpointID": endpoint["EndpointID"],
                                "MacAddress": endpoint["MacAddress"],
                                "IPv4Address": f"{endpoint['IPAddress']}/{netd.subnet.prefixlen}",
                                "IPv6Address": ""}
        listed = netd.d.api("GET", "/containers/json")[1]
        summary = next(c for c in listed if c["Id"] == cid)
        assert summary["HostConfig"] == {"NetworkMode": "default"}
        assert summary["NetworkSettings"]["Networks"]["bridge"]["IPAddress"] == endpoint["IPAddress"]
        netd.cli("stop", "-t", "0", name)
        stopped = netd.inspect(name)["NetworkSettings"]
        # Docker keeps the sandbox's ID and key and the network's ID; addresses go.
        assert stopped["SandboxID"] == running["SandboxID"]
        assert stopped["IPAddress"] == "" and stopped["Ports"] == {}
        assert stopped["Networks"]["bridge"]["NetworkID"] == bridge_id
        assert stopped["Networks"]["bridge"]["IPAddress"] == ""
        assert stopped["Networks"]["bridge"]["EndpointID"] == ""
        assert cid not in json.loads(netd.out("network", "inspect", "bridge"))[0]["Containers"]
    finally:
        netd.cli("rm", "-f", name)


def test_created_container_shape(netd):
    name = unique("created")
    netd.cli("create", "--name", name, "busybox", "true")
    try:
        settings = netd.inspect(name)["NetworkSettings"]
        assert settings["SandboxID"] == "" and settings["IPAddress"] == ""
        assert list(settings["Networks"]) == ["bridge"]
        assert settings["Networks"]["bridge"]["NetworkID"] == ""
    finally:
        netd.cli("rm", "-f", name)


def test_hosts_hostname_domainname_add_host_and_dns_flags(netd):
    body = {
        "Image": "busybox", "Hostname": "web", "Domainname": "example.test",
        "Cmd": ["sh", "-c", "cat /etc/hosts; echo ==; cat /etc/resolv.conf; echo ==; hostname"],
        "HostConfig": {"ExtraHosts": ["db.local:10.1.2.3", "gw:host-gateway"],
                       "Dns": ["10.9.9.9"], "DnsSearch": ["corp.test"], "DnsOptions": ["ndots:2"]},
    }
    cid = _create(netd, body)
    try:
        netd.cli("start", cid)
        netd.cli("wait", cid)
        hosts, resolv, hostname = netd.out("logs", cid).split("==\n")
        lines = hosts.strip().split("\n")
        assert "10.1.2.3\tdb.local" in lines and f"{netd.gateway}\tgw" in lines
        assert re.fullmatch(r"[\d.]+\tweb\.example\.test web", lines[-1])
        assert resolv == "search corp.test\nnameserver 10.9.9.9\noptions ndots:2\n"
        assert hostname.strip() == "web"
    finally:
        netd.cli("rm", "-f", cid)


def test_mac_address(netd):
    out = netd.out("run", "--rm", "--mac-address", "02:42:de:ad:be:ef", "busybox",
                   "cat", "/sys/class/net/eth0/address")
    assert out.strip() == "02:42:de:ad:be:ef"


def _create(netd, body: dict) -> str:
    status, answer = netd.d.api("POST", "/containers/create", body)
    assert status == 201, answer
    return answer["Id"]


def _uplink_mtu() -> int | None:
    from dockyard.network import bridge
    from dockyard.network.netlink import Netlink

    with Netlink() as nl:
        return bridge.uplink_mtu(nl)
