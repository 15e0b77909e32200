# SPDX-License-Identifier: Apache-2.0
"""/etc/hosts, /etc/resolv.conf and /etc/hostname in Docker's formats."""

from __future__ import annotations

import pytest

from dockyard.daemon import etcfiles

DEFAULTS = ("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n"
            "ff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n")


def test_hosts_content():
    assert etcfiles.hosts_content("abc", address="10.0.0.2") == DEFAULTS + "10.0.0.2\tabc\n"
    assert etcfiles.hosts_content("web", "example.com", address="10.0.0.2").endswith(
        "10.0.0.2\tweb.example.com web\n")
    assert etcfiles.hosts_content("a.b.c", address="10.0.0.2").endswith("10.0.0.2\ta.b.c a\n")
    extra = etcfiles.extra_host_lines(["db:10.1.1.1", "gw:host-gateway", "v6:::1"], "172.17.0.1")
    assert extra == ["10.1.1.1\tdb", "172.17.0.1\tgw", "::1\tv6"]
    assert etcfiles.hosts_content("x", extra=extra) == DEFAULTS + "10.1.1.1\tdb\n172.17.0.1\tgw\n::1\tv6\n"
    assert etcfiles.extra_host_lines(["gw:host-gateway"], None) == []


def test_validate_extra_hosts():
    etcfiles.validate_extra_hosts(["a:1.2.3.4", "b:host-gateway", "c:::1"])
    with pytest.raises(ValueError, match='bad format for add-host: "nocolon"'):
        etcfiles.validate_extra_hosts(["nocolon"])
    with pytest.raises(ValueError, match='invalid IP address in add-host: "1.2.3"'):
        etcfiles.validate_extra_hosts(["a:1.2.3"])


@pytest.fixture
def host_resolv(tmp_path):
    path = tmp_path / "resolv.conf"
    path.write_text("# generated\nnameserver 127.0.0.53\nnameserver 10.0.0.53\nsearch corp.test\noptions edns0\n")
    return str(path)


def test_resolv_default_drops_loopback_servers(host_resolv):
    assert etcfiles.resolv_content({}, host_resolv) == \
        "# generated\nnameserver 10.0.0.53\nsearch corp.test\noptions edns0\n"


def test_resolv_only_loopback_servers_falls_back(tmp_path):
    path = tmp_path / "resolv.conf"
    path.write_text("nameserver 127.0.0.53\n")
    assert etcfiles.resolv_content({}, str(path)) == "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"
    assert not etcfiles.has_usable_nameserver(str(path))


def test_resolv_embedded_dns(host_resolv):
    assert etcfiles.resolv_content({}, host_resolv, embedded_dns=True) == \
        "search corp.test\nnameserver 127.0.0.11\noptions edns0 ndots:0\n"
    # --dns servers are the embedded server's upstreams, not the container's.
    overrides = {"Dns": ["9.9.9.9"], "DnsSearch": ["a.test"], "DnsOptions": ["ndots:3"]}
    assert etcfiles.resolv_content(overrides, host_resolv, embedded_dns=True) == \
        "search a.test\nnameserver 127.0.0.11\noptions ndots:3\n"


def test_resolv_overrides(host_resolv):
    assert etcfiles.resolv_content({"Dns": ["9.9.9.9"]}, host_resolv) == \
        "search corp.test\nnameserver 9.9.9.9\noptions edns0\n"
    assert etcfiles.resolv_content({"DnsSearch": ["x.test"]}, host_resolv) == \
        "search x.test\nnameserver 10.0.0.53\noptions edns0\n"


def test_resolv_host_mode_keeps_the_file(host_resolv):
    assert etcfiles.resolv_content({}, host_resolv, host_mode=True) == open(host_resolv).read()


def test_write_files_and_rewrite_in_place(tmp_path):
    record = {
        "Id": "a" * 64,
        "Config": {"Hostname": "web", "Domainname": ""},
        "HostConfig": {"NetworkMode": "default", "ExtraHosts": ["db:10.9.9.9"]},
        "HostnamePath": str(tmp_path / "hostname"),
        "HostsPath": str(tmp_path / "hosts"),
        "ResolvConfPath": str(tmp_path / "resolv.conf"),
    }
    etcfiles.write_files(record, address="10.0.0.2", embedded_dns=True)
    assert (tmp_path / "hostname").read_text() == "web\n"
    assert (tmp_path / "hosts").read_text() == DEFAULTS + "10.9.9.9\tdb\n10.0.0.2\tweb\n"
    assert "nameserver 127.0.0.11" in (tmp_path / "resolv.conf").read_text()
    inode = (tmp_path / "hosts").stat().st_ino
    etcfiles.rewrite_in_place(record["HostsPath"], "short\n")
    assert (tmp_path / "hosts").read_text() == "short\n" and (tmp_path / "hosts").stat().st_ino == inode
    # A container in another's namespace uses that one's files: nothing is written.
    record["HostConfig"]["NetworkMode"] = "container:" + "b" * 64
    record["HostnamePath"] = str(tmp_path / "other")
    etcfiles.write_files(record)
    assert not (tmp_path / "other").exists()
