# SPDX-License-Identifier: Apache-2.0
"""Port bindings: parsing Docker's create fields, allocation, and the reported shapes."""

from __future__ import annotations

import socket

import pytest

from dockyard.errors import InvalidParameter
from dockyard.network import ports
from dockyard.network.ports import Binding, Mapping


def test_parse_port_key():
    assert ports.parse_port_key("80/tcp") == (80, "tcp")
    assert ports.parse_port_key("53/UDP") == (53, "udp")
    assert ports.parse_port_key("8080") == (8080, "tcp")
    for bad in ("abc/tcp", "0/tcp", "70000", "80/xyz", "-1"):
        with pytest.raises(InvalidParameter):
            ports.parse_port_key(bad)


def test_requested_bindings():
    config = {"ExposedPorts": {"90/tcp": {}, "80/tcp": {}}}
    host_config = {
        "PortBindings": {
            "80/tcp": [{"HostIp": "", "HostPort": "8080"}, {"HostIp": "127.0.0.1", "HostPort": "9000-9005"}],
            "53/udp": [{}],
            "82/tcp": [{"HostIp": "127.0.0.1", "HostPort": "0"}],  # 0: a random port, as Docker
            "81/tcp": [{"HostIp": "::", "HostPort": "81"}],  # IPv6: skipped
        },
        "PublishAllPorts": True,
    }
    assert ports.requested_bindings(config, host_config) == [
        Binding(80, "tcp", "0.0.0.0", 8080, 8080),
        Binding(80, "tcp", "127.0.0.1", 9000, 9005),
        Binding(53, "udp", "0.0.0.0", 0, 0),
        Binding(82, "tcp", "127.0.0.1", 0, 0),
        Binding(90, "tcp", "0.0.0.0", 0, 0),
    ]
    assert ports.exposed_ports(config, host_config) == [(53, "udp"), (80, "tcp"), (81, "tcp"), (82, "tcp"), (90, "tcp")]
    for bad in ({"80/tcp": [{"HostPort": "x"}]}, {"80/tcp": [{"HostPort": "90-80"}]}, {"80/tcp": [{"HostPort": "0-5"}]},
                {"80/tcp": [{"HostIp": "1.2.3", "HostPort": "1"}]}):
        with pytest.raises(InvalidParameter):
            ports.requested_bindings({}, {"PortBindings": bad})


def test_shapes():
    mappings = [Mapping("tcp", "0.0.0.0", 8080, 80), Mapping("tcp", "127.0.0.1", 9000, 80)]
    settings = ports.settings_ports([(90, "tcp"), (80, "tcp")], mappings)
    assert settings == {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"},
                                   {"HostIp": "127.0.0.1", "HostPort": "9000"}],
                        "90/tcp": None}
    assert list(settings) == ["80/tcp", "90/tcp"]
    assert ports.summary_ports({"Ports": settings}) == [
        {"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
        {"IP": "127.0.0.1", "PrivatePort": 80, "PublicPort": 9000, "Type": "tcp"},
        {"PrivatePort": 90, "Type": "tcp"},
    ]
    assert ports.summary_ports({"Ports": {}}) == []


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_allocator_holds_ports_and_explains_conflicts():
    allocator = ports.PortAllocator((40000, 40010))
    port = _free_port()
    try:
        [mapping] = allocator.allocate([Binding(80, "tcp", "127.0.0.1", port, port)], "web (abc)")
        assert mapping == Mapping("tcp", "127.0.0.1", port, 80)
        with socket.socket() as probe, pytest.raises(OSError):
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(("127.0.0.1", port))
        with pytest.raises(ports.PortInUse) as caught:
            allocator.allocate([Binding(80, "tcp", "0.0.0.0", port, port)], "db (def)")
        assert caught.value.message == (f"driver failed programming external connectivity on endpoint db (def): "
                                        f"Bind for 0.0.0.0:{port} failed: port is already allocated")
        assert caught.value.status == 500 and isinstance(caught.value, InvalidParameter)
        # UDP is another namespace of ports.
        allocator.release(allocator.allocate([Binding(53, "udp", "127.0.0.1", port, port)], "x (y)"))
        allocator.release([mapping])
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", port))
            probe.listen()
            with pytest.raises(ports.PortInUse, match=f"listen tcp4 127.0.0.1:{port}: bind: address already in use"):
                allocator.allocate([Binding(80, "tcp", "127.0.0.1", port, port)], "web (abc)")
    finally:
        allocator.close()


def test_allocator_all_or_nothing():
    allocator = ports.PortAllocator()
    first, second = _free_port(), _free_port()
    try:
        allocator.allocate([Binding(1, "tcp", "127.0.0.1", second, second)], "a (1)")
        with pytest.raises(ports.PortInUse):
            allocator.allocate([Binding(1, "tcp", "127.0.0.1", first, first),
                                Binding(2, "tcp", "127.0.0.1", second, second)], "b (2)")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", first))  # released again
    finally:
        allocator.close()
