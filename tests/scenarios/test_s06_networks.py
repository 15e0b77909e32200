# SPDX-License-Identifier: Apache-2.0
"""Scenario 6, networks [seeds 000 section 6 "네트워크", 003 "Network"]: compose's
project network lets `web` reach `db` by name; the redmine + mysql walkthrough on
`redmine-network`; `network ls`; user networks isolated from each other; `--network
host` and `none`."""

from __future__ import annotations

import json
import socket
import textwrap

import pytest

from dockyard.baseimages import recipes
from tests.scenarios.helpers import free_port, unique, wait_for, wait_http

pytestmark = [pytest.mark.requires_root, pytest.mark.scenario, pytest.mark.timeout(1800)]

# Seed 000, section 6 (network).
PROJECT_NETWORK = """\
    version: '3'
    services:
      web:
        image: nginx:latest
      db:
        image: mysql:latest
        environment:
          MYSQL_ROOT_PASSWORD: example
    """

# What a MySQL server sends first on a new connection names its auth plugin / flavour.
GREETING_WORDS = ("mysql_native_password", "caching_sha2_password", "MariaDB")


def test_compose_project_network_name_resolution(compose, dockyard):
    compose.write(PROJECT_NETWORK)
    compose("up", "-d", timeout=1500)
    network = f"{compose.project}_default"
    assert network in dockyard.out("network", "ls", "--format", "{{.Name}}").split()
    db_ip = dockyard.inspect(compose.id("db"))["NetworkSettings"]["Networks"][network]["IPAddress"]
    assert db_ip
    # `db` resolves, inside web, to the db container's address on the project network.
    hosts = compose("exec", "-T", "web", "getent", "hosts", "db").out.split()
    assert hosts[0] == db_ip, hosts

    # "web 컨테이너에서 mysql -h db": the server answers web by name. The nginx image has no
    # mysql client, so web speaks TCP with bash; then a mysql client on the same network
    # logs in with `mysql -h db`.
    def greeting():
        out = compose("exec", "-T", "web", "bash", "-c",
                      "exec 3<>/dev/tcp/db/3306 && timeout 2 cat <&3 | tr -c '[:print:]' .",
                      check=False, timeout=30).out
        return out if any(word in out for word in GREETING_WORDS) else None
    wait_for(greeting, what="db:3306 to greet web")

    def login():
        result = dockyard("run", "--rm", "--network", network, "mysql:latest", "mysql", "-h", "db", "-uroot",
                          "-pexample", "-N", "-e", "SELECT @@hostname", check=False, timeout=60)
        return result.out.strip() if result.rc == 0 else None
    hostname = wait_for(login, what="mysql -h db to log in")
    assert dockyard.inspect(compose.id("db"))["Config"]["Hostname"] == hostname


# When no offline recipe makes `redmine`, a stand-in for it: built in the test FROM
# mysql:8 (for its mysql client) plus busybox (for an HTTP server). Like redmine, it
# reads REDMINE_DB_MYSQL / REDMINE_DB_PASSWORD, waits until it can log in to that server
# by name and use the `redmine` database, then serves a page on port 3000.
STANDIN_DOCKERFILE = """\
    FROM busybox AS tools
    FROM mysql:8
    COPY --from=tools /bin/busybox /usr/local/bin/busybox
    COPY redmine-standin.sh /usr/local/bin/redmine-standin.sh
    RUN chmod 755 /usr/local/bin/redmine-standin.sh
    EXPOSE 3000
    ENTRYPOINT ["/usr/local/bin/redmine-standin.sh"]
    """

STANDIN_SCRIPT = """\
    #!/bin/sh
    set -u
    echo "waiting for the database at $REDMINE_DB_MYSQL"
    until db=$(mysql -h "$REDMINE_DB_MYSQL" -uroot -p"$REDMINE_DB_PASSWORD" -N \\
                 -e "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME='redmine'" 2>/dev/null) \\
          && [ "$db" = redmine ]; do
        sleep 1
    done
    mkdir -p /www
    echo "<html><head><title>Redmine</title></head><body>Redmine (stand-in): database $db on $REDMINE_DB_MYSQL</body></html>" > /www/index.html
    echo "connected to $REDMINE_DB_MYSQL"
    exec busybox httpd -f -p 3000 -h /www
    """


def test_redmine_mysql_user_network(client, made, tmp_path):
    network = made.network(unique("redmine-network"))
    mysql = made.container(unique("some-mysql"))
    redmine = made.container(unique("some-redmine"))
    netid = client.out("network", "create", network).strip()
    assert len(netid) == 64

    client("run", "--name", mysql, "--network", network, "-e", "MYSQL_ROOT_PASSWORD=my-secret-pw",
           "-e", "MYSQL_DATABASE=redmine", "-d", "mysql:8", timeout=1500)

    if recipes.find("redmine") is not None:
        image, expect = "redmine", "Redmine"
    else:
        image = made.image(unique("redmine-standin"))
        context = tmp_path / "redmine-standin"
        context.mkdir()
        (context / "Dockerfile").write_text(textwrap.dedent(STANDIN_DOCKERFILE))
        (context / "redmine-standin.sh").write_text(textwrap.dedent(STANDIN_SCRIPT))
        client("build", "-t", image, ".", cwd=context, timeout=600)
        expect = f"database redmine on {mysql}"

    port = free_port()
    client("run", "--name", redmine, "--network", network, "-e", f"REDMINE_DB_MYSQL={mysql}",
           "-e", "REDMINE_DB_PASSWORD=my-secret-pw", "-p", f"{port}:3000", "-d", image, timeout=1500)
    page = wait_http(f"http://127.0.0.1:{port}/", expect, timeout=300)
    assert "Redmine" in page
    if image == "redmine":
        assert "<title>Redmine</title>" in page, page
        # Redmine's schema went into the `redmine` database of some-mysql, reached by name.
        tables = client.out("exec", mysql, "mysql", "-uroot", "-pmy-secret-pw", "-N", "-e",
                            "SELECT login FROM redmine.users WHERE login = 'admin'")
        assert tables.split() == ["admin"], tables

    listed = client.out("network", "ls", "--format", "{{.Name}} {{.Driver}}").splitlines()
    for expected in (f"{network} bridge", "bridge bridge", "host host", "none null"):
        assert expected in listed, listed
    attached = json.loads(client.out("network", "inspect", network))[0]["Containers"]
    assert sorted(c["Name"] for c in attached.values()) == sorted([mysql, redmine])


HTTPD = "mkdir -p /w && echo {text} > /w/index.html && exec httpd -f -p 80 -h /w"


def test_user_networks_are_isolated(client, made):
    net_a, net_b = made.network(unique("net-a")), made.network(unique("net-b"))
    client("network", "create", net_a)
    client("network", "create", net_b)
    server = made.container(unique("server-a"))
    client("run", "-d", "--name", server, "--network", net_a, "busybox", "sh", "-c", HTTPD.format(text="from-a"))
    server_ip = client.inspect(server)["NetworkSettings"]["Networks"][net_a]["IPAddress"]

    def fetch(network: str, target: str):
        # Debian's busybox-static wget crashes on its own -T, so `timeout` bounds it
        # instead; not as PID 1 (which ignores timeout's SIGTERM), hence the `; exit`.
        return client("run", "--rm", "--network", network, "busybox", "sh", "-c",
                      f"timeout 3 wget -q -O- http://{target}/; exit $?", check=False, timeout=60)

    # Same network: by name and by address.
    same = wait_for(lambda: (lambda r: r if r.rc == 0 else None)(fetch(net_a, server)), 30, what="wget on net-a")
    assert same.out == "from-a\n"
    assert fetch(net_a, server_ip).out == "from-a\n"
    # Another network: the name does not resolve and the address is unreachable.
    by_name = fetch(net_b, server)
    assert by_name.rc != 0 and "bad address" in by_name.err, by_name
    by_ip = fetch(net_b, server_ip)
    assert by_ip.rc != 0 and by_ip.out == "", by_ip
    # The default bridge is not a way around it either.
    assert fetch("bridge", server_ip).rc != 0


def test_host_and_none_networks(client, made, scenario_daemon):
    # host: the container shares the host's network stack (its interfaces, hostname and
    # loopback: a server it starts on 127.0.0.1 is reachable from the host).
    links = client.out("run", "--rm", "--network", "host", "busybox", "ip", "-o", "link")
    assert f": {scenario_daemon.bridge}:" in links, links
    assert client.out("run", "--rm", "--network", "host", "busybox", "hostname").strip() == socket.gethostname()
    port = free_port()
    hostnet = made.container(unique("hostnet"))
    client("run", "-d", "--name", hostnet, "--network", "host", "busybox", "sh", "-c",
           f"mkdir -p /w && echo on-host-stack > /w/index.html && exec httpd -f -p 127.0.0.1:{port} -h /w")
    assert wait_http(f"http://127.0.0.1:{port}/", timeout=20) == "on-host-stack\n"
    assert list(client.inspect(hostnet)["NetworkSettings"]["Networks"]) == ["host"]

    # none: a loopback interface and nothing else.
    links = client.out("run", "--rm", "--network", "none", "busybox", "ip", "-o", "link").splitlines()
    assert len(links) == 1 and ": lo:" in links[0], links
    addrs = client.out("run", "--rm", "--network", "none", "busybox", "ip", "-o", "-4", "addr").split()
    assert "127.0.0.1/8" in addrs and not [a for a in addrs if "/" in a and not a.startswith("127.")], addrs
    gateway = json.loads(client.out("network", "inspect", "bridge"))[0]["IPAM"]["Config"][0]["Gateway"]
    unreachable = client("run", "--rm", "--network", "none", "busybox", "timeout", "5", "wget", "-q", "-O-",
                         f"http://{gateway}/", check=False)
    assert unreachable.rc != 0 and "unreachable" in unreachable.err, unreachable
