# SPDX-License-Identifier: Apache-2.0
"""Scenario 5, volumes [seeds 000 section 6, 003 "Volumes"]: a named volume keeps
/var/lib/mysql across containers, a bind mount of ./html (also `:ro`) shows host edits
live, two busybox services share `shared-data`, and the `volume` commands."""

from __future__ import annotations

import json

import pytest

from tests.scenarios.helpers import free_port, unique, wait_for, wait_http

pytestmark = [pytest.mark.requires_root, pytest.mark.scenario, pytest.mark.timeout(1800)]


def test_named_volume_keeps_mysql_data(client, made):
    """Seed 000, 6.3 use 1 (`docker run` form): the data outlives the container."""
    volume = made.volume(unique("mysql-data"))
    first = made.container(unique("mysql1"))

    def mysql(container: str, sql: str, check: bool = True):
        return client("exec", container, "mysql", "-h127.0.0.1", "-uroot", "-pexample_password", "-N", "-e", sql,
                      check=check, timeout=60)

    client("run", "-d", "--name", first, "-v", f"{volume}:/var/lib/mysql", "-e",
           "MYSQL_ROOT_PASSWORD=example_password", "mysql:latest", timeout=1500)
    assert volume in client.out("volume", "ls")
    wait_for(lambda: mysql(first, "SELECT 1", check=False).rc == 0, what="mysql to answer")
    mysql(first, "CREATE DATABASE shop; CREATE TABLE shop.items (name VARCHAR(20)); INSERT INTO shop.items VALUES ('kept');")
    client("rm", "-f", first)
    assert client("inspect", first, check=False).rc != 0
    # The volume and its data stay; a new container picks them up (no re-initialisation).
    assert volume in client.out("volume", "ls", "-q").split()
    second = made.container(unique("mysql2"))
    client("run", "-d", "--name", second, "-v", f"{volume}:/var/lib/mysql", "-e",
           "MYSQL_ROOT_PASSWORD=example_password", "mysql:latest")
    wait_for(lambda: mysql(second, "SELECT 1", check=False).rc == 0, what="mysql on the old data to answer")
    assert mysql(second, "SELECT name FROM shop.items").out.split() == ["kept"]


# Seed 000, 6.3 use 2, with a free host port.
BIND_COMPOSE = """\
    version: '3'
    services:
      web:
        image: nginx:latest
        ports:
          - "{port}:80"
        volumes:
          - ./html:/usr/share/nginx/html  # 바인드 마운트로 호스트 디렉토리 연결
    """


def test_compose_bind_mount_live_edits(compose, dockyard):
    port = free_port()
    compose.write(BIND_COMPOSE.format(port=port))
    html = compose.directory / "html"
    html.mkdir()
    (html / "index.html").write_text("<h1>version one</h1>\n")
    compose("up", "-d", timeout=1500)
    assert wait_http(f"http://127.0.0.1:{port}/", timeout=60) == "<h1>version one</h1>\n"
    # "호스트에서 파일을 수정하면 실시간으로 반영": no restart, no copy.
    (html / "index.html").write_text("<h1>version two</h1>\n")
    assert wait_http(f"http://127.0.0.1:{port}/", "version two", timeout=10) == "<h1>version two</h1>\n"
    (html / "new.html").write_text("added on the host\n")
    assert wait_http(f"http://127.0.0.1:{port}/new.html", timeout=10) == "added on the host\n"
    # `./html` is relative to the compose file: the project's html directory.
    mounts = json.loads(dockyard.out("inspect", "-f", "{{json .Mounts}}", compose.id("web")))
    assert [(m["Type"], m["Source"], m["Destination"]) for m in mounts] == \
        [("bind", str(html), "/usr/share/nginx/html")]


def test_bind_mounts_rw_and_ro(client, made, tmp_path):
    # Seed 003: `docker run --name my-nginx -v $(pwd):/usr/share/nginx/html:ro -p 8080:80 -d nginx`
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("read-only site\n")
    port = free_port()
    ro = made.container(unique("my-nginx"))
    client("run", "--name", ro, "-v", f"{site}:/usr/share/nginx/html:ro", "-p", f"{port}:80", "-d", "nginx",
           cwd=site, timeout=1500)
    assert wait_http(f"http://127.0.0.1:{port}/", timeout=60) == "read-only site\n"
    (site / "index.html").write_text("edited on the host\n")
    assert wait_http(f"http://127.0.0.1:{port}/", "edited", timeout=10) == "edited on the host\n"
    denied = client("exec", ro, "sh", "-c", "echo from-container > /usr/share/nginx/html/index.html", check=False)
    assert denied.rc != 0 and "Read-only file system" in denied.err, denied
    assert (site / "index.html").read_text() == "edited on the host\n"
    mount = next(m for m in client.inspect(ro)["Mounts"] if m["Destination"] == "/usr/share/nginx/html")
    assert mount["Type"] == "bind" and mount["RW"] is False and mount["Source"] == str(site)

    # Seed 000: `docker run -d -p 8080:80 -v $(pwd)/html:/usr/share/nginx/html nginx:latest`
    (tmp_path / "html").mkdir()
    (tmp_path / "html" / "index.html").write_text("writable\n")
    rw = made.container(unique("nginx-rw"))
    port2 = free_port()
    client("run", "-d", "--name", rw, "-p", f"{port2}:80", "-v", f"{tmp_path / 'html'}:/usr/share/nginx/html",
           "nginx:latest", cwd=tmp_path)
    assert wait_http(f"http://127.0.0.1:{port2}/", timeout=60) == "writable\n"
    client("exec", rw, "sh", "-c", "echo from-container > /usr/share/nginx/html/made.html")
    assert (tmp_path / "html" / "made.html").read_text() == "from-container\n"
    assert http_text(port2, "made.html") == "from-container\n"


def http_text(port: int, path: str) -> str:
    return wait_http(f"http://127.0.0.1:{port}/{path}", timeout=10)


# Seed 000, 6.3 use 3.
SHARED_COMPOSE = """\
    version: '3'
    services:
      app1:
        image: busybox
        command: sh -c "echo 'Hello' > /data/test.txt && sleep 3600"
        volumes:
          - shared-data:/data
      app2:
        image: busybox
        command: sh -c "cat /data/test.txt && sleep 3600"
        volumes:
          - shared-data:/data
    volumes:
      shared-data:
    """


def test_compose_shared_volume(compose, dockyard):
    compose.write(SHARED_COMPOSE)
    compose("up", "-d")
    volume = f"{compose.project}_shared-data"
    for service in ("app1", "app2"):
        names = [m["Name"] for m in dockyard.inspect(compose.id(service))["Mounts"]]
        assert names == [volume], names
    wait_for(lambda: dockyard("exec", compose.id("app1"), "cat", "/data/test.txt", check=False).out == "Hello\n",
             30, what="app1 to write /data/test.txt")
    # The seed starts both at once; app2 may have looked before app1 wrote. As a user
    # would, look at app2's log and restart it if it came too early.
    logs = compose("logs", "--no-color", "app2").out
    if "Hello" not in logs:
        assert "test.txt" in logs, logs  # cat's "No such file or directory"
        compose("restart", "-t", "1", "app2")
    logs = wait_for(lambda: (lambda t: t if "Hello" in t else None)(compose("logs", "--no-color", "app2").out),
                    30, what="Hello in app2's log")
    assert any(line.rstrip().endswith("| Hello") for line in logs.splitlines()), logs
    # app2 reads what app1 wrote, and sees further writes too.
    dockyard("exec", compose.id("app1"), "sh", "-c", "echo again >> /data/test.txt")
    assert dockyard("exec", compose.id("app2"), "cat", "/data/test.txt").out == "Hello\nagain\n"


def test_volume_commands(client, made, tmp_path):
    label = unique("scn5")
    name = made.volume(unique("my-nginx-volume"))
    assert client.out("volume", "create", "--label", f"scenario={label}", name).strip() == name
    assert name in client.out("volume", "ls", "-q").split()
    listed = client.out("volume", "ls", "--filter", f"label=scenario={label}", "--format", "{{.Driver}} {{.Name}}")
    assert listed.split("\n")[0] == f"local {name}"
    info = json.loads(client.out("volume", "inspect", name))[0]
    assert info["Name"] == name and info["Driver"] == "local" and info["Labels"] == {"scenario": label}
    assert info["Mountpoint"].endswith(f"/volumes/{name}/_data") and info["Scope"] == "local"

    # Seed 003: fill the volume through a temporary container, then serve it with nginx.
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<p>served from a volume</p>\n")
    client("run", "--rm", "-v", f"{name}:/data", "-v", f"{site}:/src:ro", "busybox", "cp", "/src/index.html", "/data/")
    port = free_port()
    web = made.container(unique("my-nginx"))
    client("run", "--name", web, "-v", f"{name}:/usr/share/nginx/html", "-p", f"{port}:80", "-d", "nginx",
           timeout=1500)
    assert wait_http(f"http://127.0.0.1:{port}/", timeout=60) == "<p>served from a volume</p>\n"
    in_use = client("volume", "rm", name, check=False)
    assert in_use.rc != 0 and "in use" in in_use.err, in_use
    client("rm", "-f", web)
    client("volume", "rm", name)
    assert name not in client.out("volume", "ls", "-q").split()
    assert client("volume", "inspect", name, check=False).rc != 0

    # prune: anonymous volumes by default, named ones too with -a (here: only ours, by label).
    holder = made.container(unique("anon"))
    client("create", "--name", holder, "-v", "/data", "busybox")
    anonymous = client.inspect(holder)["Mounts"][0]["Name"]
    made.volume(anonymous)
    kept = made.volume(unique("named-unused"))
    client("volume", "create", "--label", f"scenario={label}", kept)
    client("rm", holder)  # without -v: the anonymous volume stays behind, unused
    assert anonymous in client.out("volume", "ls", "-q").split()
    pruned = client.out("volume", "prune", "-f")
    assert anonymous in pruned and "Total reclaimed space" in pruned
    volumes = client.out("volume", "ls", "-q").split()
    assert anonymous not in volumes and kept in volumes
    pruned = client.out("volume", "prune", "-f", "-a", "--filter", f"label=scenario={label}")
    assert kept in pruned
    assert kept not in client.out("volume", "ls", "-q").split()
