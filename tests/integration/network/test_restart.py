# SPDX-License-Identifier: Apache-2.0
"""A daemon restart (even by SIGKILL) leaves running containers' networking working:
published ports, the embedded DNS server, the rules (rebuilt if they were lost), the
address bookkeeping and the port reservations."""

from __future__ import annotations

import json
import socket
import subprocess

import pytest

from tests.integration.network.conftest import Net, free_port, http_get, unique, wait_for
from tests.support.daemon import restart_daemon, running_daemon


@pytest.fixture
def rd():
    with running_daemon() as d:
        d.cli("pull", "-q", "busybox")
        yield Net(d)


def test_restart_keeps_ports_dns_and_rules(rd):
    net = unique("rnet")
    rd.cli("network", "create", net)
    port = free_port()
    web, client = unique("web"), unique("client")
    rd.run_d("--name", web, "--network", net, "-p", f"{port}:80", "busybox", "sh", "-c",
             "mkdir /w && echo kept > /w/index.html && httpd -f -p 80 -h /w")
    rd.run_d("--name", client, "--network", net, "busybox", "sleep", "120")
    assert wait_for(lambda: http_get(f"http://127.0.0.1:{port}/")).strip() == "kept"
    web_ip = rd.ip(web, net)

    restart_daemon(rd.d, kill=True)
    assert http_get(f"http://127.0.0.1:{port}/").strip() == "kept"
    assert web_ip in rd.out("exec", client, "nslookup", "-type=A", web)
    assert rd.out("exec", client, "wget", "-q", "-O-", f"http://{web}/").strip() == "kept"
    with socket.socket() as sock, pytest.raises(OSError):
        sock.bind(("0.0.0.0", port))  # held again by the new daemon

    # Rules lost while no daemon ran (a flushed ruleset) come back with the next one.
    rd.d.process.kill()
    rd.d.process.wait()
    subprocess.run(["nft", "delete", "table", "inet", rd.d.nft_table], check=True)
    restart_daemon(rd.d, kill=True)
    assert http_get(f"http://127.0.0.1:{port}/").strip() == "kept"

    # The new daemon knows which addresses are taken, and which rules are whose.
    other = unique("other")
    rd.run_d("--name", other, "--network", net, "busybox", "sleep", "60")
    assert rd.ip(other, net) not in (web_ip, rd.ip(client, net))
    members = json.loads(rd.out("network", "inspect", net))[0]["Containers"]
    assert {m["Name"] for m in members.values()} == {web, client, other}
    ports_map = ["nft", "list", "map", "inet", rd.d.nft_table, "ports"]
    assert f"tcp . {port} :" in subprocess.run(ports_map, capture_output=True, text=True, check=True).stdout
    rd.cli("rm", "-f", web)
    with socket.socket() as sock:
        sock.bind(("0.0.0.0", port))
    wait_for(lambda: f"tcp . {port} :" not in subprocess.run(ports_map, capture_output=True, text=True).stdout)
