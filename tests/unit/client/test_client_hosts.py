# SPDX-License-Identifier: Apache-2.0
"""Host resolution: -H, then DOCKYARD_HOST, then DOCKER_HOST, then the default socket."""

import pytest

from dockyard.client.hosts import parse_host, resolve_host
from dockyard.config import DEFAULT_SOCKET


def test_flag_wins_over_environment():
    env = {"DOCKYARD_HOST": "unix:///a.sock", "DOCKER_HOST": "unix:///b.sock"}
    assert resolve_host("tcp://1.2.3.4:2375", env) == "tcp://1.2.3.4:2375"


def test_dockyard_host_before_docker_host():
    env = {"DOCKYARD_HOST": "unix:///a.sock", "DOCKER_HOST": "unix:///b.sock"}
    assert resolve_host(None, env) == "unix:///a.sock"
    assert resolve_host(None, {"DOCKER_HOST": "unix:///b.sock"}) == "unix:///b.sock"


def test_default_socket_when_nothing_set():
    assert resolve_host(None, {}) == DEFAULT_SOCKET == "unix:///run/dockyard.sock"
    assert resolve_host("", {"DOCKER_HOST": ""}) == DEFAULT_SOCKET
    assert parse_host(DEFAULT_SOCKET).is_default


def test_unix_and_tcp_forms():
    unix = parse_host("unix:///var/run/x.sock")
    assert (unix.scheme, unix.path, unix.is_default) == ("unix", "/var/run/x.sock", False)
    tcp = parse_host("tcp://10.0.0.1:2376")
    assert (tcp.scheme, tcp.hostname, tcp.port) == ("tcp", "10.0.0.1", 2376)
    assert parse_host("tcp://example.org").port == 2375
    assert parse_host("http://localhost:8080").port == 8080
    v6 = parse_host("tcp://[::1]:2375")
    assert (v6.hostname, v6.port) == ("::1", 2375)
    assert parse_host("tcp://:2375").hostname == "127.0.0.1"
    assert parse_host("/run/x.sock").path == "/run/x.sock"


@pytest.mark.parametrize(
    "url", ["unix://", "tcp://host:notaport", "tcp://host:70000", "ssh://me@host", "foo"]
)
def test_bad_hosts_are_rejected(url):
    with pytest.raises(ValueError):
        parse_host(url)
