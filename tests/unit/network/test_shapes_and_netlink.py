# SPDX-License-Identifier: Apache-2.0
"""Docker's JSON shapes of container networking, and the netlink message codec."""

from __future__ import annotations

import struct

from dockyard.network import netlink as nl
from dockyard.network import settings


def test_network_settings_key_order_matches_docker():
    assert list(settings.network_settings()) == [
        "Bridge", "SandboxID", "HairpinMode", "LinkLocalIPv6Address", "LinkLocalIPv6PrefixLen", "Ports",
        "SandboxKey", "SecondaryIPAddresses", "SecondaryIPv6Addresses", "EndpointID", "Gateway",
        "GlobalIPv6Address", "GlobalIPv6PrefixLen", "IPAddress", "IPPrefixLen", "IPv6Gateway", "MacAddress",
        "Networks"]
    endpoint = settings.endpoint_settings(aliases=["a"], mac="02:42:00:00:00:01")
    assert list(endpoint) == ["IPAMConfig", "Links", "Aliases", "NetworkID", "EndpointID", "Gateway",
                              "IPAddress", "IPPrefixLen", "IPv6Gateway", "GlobalIPv6Address",
                              "GlobalIPv6PrefixLen", "MacAddress", "DriverOpts"]
    endpoint.update(IPAddress="10.0.0.2", IPPrefixLen=24, EndpointID="x")
    settings.clear_addresses(endpoint)
    assert endpoint["IPAddress"] == "" and endpoint["IPPrefixLen"] == 0 and endpoint["Aliases"] == ["a"]


def test_network_doc_shape():
    doc = settings.network_doc(name="n", id="i", created="t", driver="bridge",
                               ipam_config=[{"Subnet": "10.0.0.0/24", "Gateway": "10.0.0.1"}], ipam_options=None)
    assert list(doc) == ["Name", "Id", "Created", "Scope", "Driver", "EnableIPv6", "IPAM", "Internal",
                         "Attachable", "Ingress", "ConfigFrom", "ConfigOnly", "Containers", "Options", "Labels"]


def test_attributes_roundtrip_with_padding_and_nesting():
    payload = nl._attr(nl.IFLA_IFNAME, nl._cstr("veth1")) + nl._nested(
        nl.IFLA_LINKINFO, [nl._attr(nl.IFLA_INFO_KIND, nl._cstr("bridge"))])
    assert len(payload) % 4 == 0
    attrs = nl._parse_attrs(payload)
    assert attrs[nl.IFLA_IFNAME] == b"veth1\0"
    assert nl._parse_attrs(attrs[nl.IFLA_LINKINFO])[nl.IFLA_INFO_KIND] == b"bridge\0"


def test_parse_link_message():
    body = nl._IFINFOMSG.pack(0, 1, 7, nl.IFF_UP, 0) + b"".join([
        nl._attr(nl.IFLA_IFNAME, nl._cstr("br0")),
        nl._attr(nl.IFLA_MTU, struct.pack("=I", 1400)),
        nl._attr(nl.IFLA_MASTER, struct.pack("=I", 3)),
        nl._attr(nl.IFLA_IFALIAS, b"dockyard:t"),
        nl._attr(nl.IFLA_ADDRESS, bytes.fromhex("024200000001")),
        nl._nested(nl.IFLA_LINKINFO, [nl._attr(nl.IFLA_INFO_KIND, nl._cstr("bridge"))]),
    ])
    link = nl._parse_link(body)
    assert (link.index, link.name, link.mtu, link.master, link.alias, link.kind, link.up) == \
        (7, "br0", 1400, 3, "dockyard:t", "bridge", True)
    assert link.address == "02:42:00:00:00:01"
    assert nl.mac_bytes("02:42:0a:00:00:02") == bytes([2, 0x42, 10, 0, 0, 2])
