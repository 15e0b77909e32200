# SPDX-License-Identifier: Apache-2.0
"""`dockyard compose` end to end against a real daemon: the seed scenarios (a web server
and a database with a named volume, two services sharing a volume, a service reaching
another by name) and each command."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest

from tests.support.registry import free_port, start_dockyard_registry

WEB_DB = """\
    version: '3'
    services:
      web:
        image: busybox
        command: ["sh", "-c", "mkdir -p /www && echo nginx-page > /www/index.html && exec httpd -f -p 80 -h /www"]
        ports:
          - "${WEB_PORT}:80"
        environment:
          GREETING: "${GREETING:-hello}"
        depends_on:
          db:
            condition: service_healthy
      db:
        image: busybox
        environment:
          MYSQL_ROOT_PASSWORD: 1234
        command: ["sh", "-c", "echo started >> /var/lib/mysql/boots && touch /tmp/ready && exec sh -c 'while true; do nc -l -p 3306 -e cat /var/lib/mysql/boots; done'"]
        healthcheck:
          test: ["CMD", "test", "-f", "/tmp/ready"]
          interval: 1s
          retries: 30
        volumes:
          - db-data:/var/lib/mysql
    volumes:
      db-data:
    """


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ps(project) -> list[dict]:
    return [json.loads(line) for line in project.out("ps", "-a", "--format", "json").splitlines() if line]


def _fetch(url: str, tries: int = 50) -> str:
    for _ in range(tries):
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return r.read().decode()
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer")


def test_web_and_database_lifecycle(project, daemon):
    port = _free_port()
    project.write("docker-compose.yml", WEB_DB)
    env = {"WEB_PORT": str(port)}
    up = project.compose("up", "-d", env=env)
    err = up.stderr.decode()
    name = project.path.name
    assert f"Network {name}_default  Created" in err
    assert f'Volume "{name}_db-data"  Created' in err
    # db became healthy before web was started.
    assert err.index(f"Container {name}-db-1  Healthy") < err.index(f"Container {name}-web-1  Started")

    assert _fetch(f"http://127.0.0.1:{port}/") == "nginx-page\n"
    # The web service reaches the database by its service name on the project network.
    assert project.out("exec", "-T", "web", "sh", "-c", "nc db 3306 </dev/null", env=env) == "started\n"

    rows = {r["Service"]: r for r in _ps(project)}
    assert rows["web"]["Name"] == f"{name}-web-1" and rows["web"]["State"] == "running"
    assert rows["web"]["Publishers"][0]["PublishedPort"] == port
    info = json.loads(daemon.cli("inspect", f"{name}-web-1").stdout)[0]
    labels = info["Config"]["Labels"]
    assert labels["com.docker.compose.project"] == name
    assert labels["com.docker.compose.service"] == "web"
    assert labels["com.docker.compose.container-number"] == "1"
    assert labels["com.docker.compose.oneoff"] == "False"
    assert labels["com.docker.compose.depends_on"] == "db:service_healthy:false"
    assert len(labels["com.docker.compose.config-hash"]) == 64
    assert labels["com.docker.compose.image"].startswith("sha256:")
    net = json.loads(daemon.cli("network", "inspect", f"{name}_default").stdout)[0]
    assert net["Labels"]["com.docker.compose.network"] == "default"
    assert net["Labels"]["com.docker.compose.project"] == name
    vol = json.loads(daemon.cli("volume", "inspect", f"{name}_db-data").stdout)[0]
    assert vol["Labels"]["com.docker.compose.volume"] == "db-data"

    # Idempotent: nothing changes the second time.
    ids = {r["Service"]: r["ID"] for r in _ps(project)}
    again = project.compose("up", "-d", env=env).stderr.decode()
    assert "Recreate" not in again and {r["Service"]: r["ID"] for r in _ps(project)} == ids
    # A changed service is recreated, its unchanged dependency is not.
    changed = project.compose("up", "-d", env={**env, "GREETING": "changed"}).stderr.decode()
    assert f"Container {name}-web-1  Recreated" in changed
    after = {r["Service"]: r["ID"] for r in _ps(project)}
    assert after["db"] == ids["db"] and after["web"] != ids["web"]
    assert project.out("exec", "-T", "web", "sh", "-c", "echo $GREETING", env=env) == "changed\n"

    # down keeps the named volume; the next up sees the same data.
    project.compose("down", "-t", "1", env=env)
    assert _ps(project) == []
    assert f"{name}_db-data" in daemon.cli("volume", "ls", "-q").stdout.decode()
    assert f"{name}_default" not in daemon.cli("network", "ls").stdout.decode()
    project.compose("up", "-d", env=env)
    assert project.out("exec", "-T", "db", "cat", "/var/lib/mysql/boots", env=env) == "started\nstarted\n"
    project.compose("down", "-v", "-t", "0", env=env)
    assert f"{name}_db-data" not in daemon.cli("volume", "ls", "-q").stdout.decode()


SHARED = """\
    services:
      app1:
        image: busybox
        command: sh -c "echo 'Hello' > /data/test.txt && sleep 3600"
        volumes:
          - shared-data:/data
      app2:
        image: busybox
        command: sh -c "while [ ! -f /data/test.txt ]; do sleep 0.1; done; cat /data/test.txt && sleep 3600"
        volumes:
          - shared-data:/data
        depends_on: [app1]
      job:
        image: busybox
        command: ["sh", "-c", "echo job done"]
        profiles: [jobs]
    volumes:
      shared-data:
    """


def test_shared_volume_and_commands(project):
    project.write("compose.yaml", SHARED)
    name = project.path.name
    project.compose("up", "-d")
    deadline = time.monotonic() + 10
    while "Hello" not in project.out("logs", "app2") and time.monotonic() < deadline:
        time.sleep(0.1)
    logs = project.out("logs", "--no-color", "app2")
    assert f"{name}-app2-1  | Hello" in logs
    assert project.out("logs", "--no-log-prefix", "app2") == "Hello\n"

    assert project.out("ps", "--services") == "app1\napp2\n"
    assert project.out("ps", "-q").count("\n") == 2
    table = project.out("ps")
    assert table.splitlines()[0].split() == ["NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS"]
    assert project.out("config", "--services") == "app1\napp2\n"
    assert project.out("--profile", "jobs", "config", "--services") == "app1\napp2\njob\n"
    config = json.loads(project.out("config", "--format", "json"))
    assert config["volumes"]["shared-data"]["name"] == f"{name}_shared-data"

    project.compose("stop", "app2")
    assert {r["Service"]: r["State"] for r in _ps(project)}["app2"] == "exited"
    project.compose("start", "app2")
    project.compose("pause", "app1")
    assert {r["Service"]: r["State"] for r in _ps(project)}["app1"] == "paused"
    project.compose("unpause", "app1")
    project.compose("restart", "-t", "0", "app1")
    assert all(r["State"] == "running" for r in _ps(project))
    assert "sleep" in project.out("top", "app1")

    (project.path / "in.txt").write_text("copied\n")
    project.compose("cp", "in.txt", "app1:/tmp/in.txt")
    assert project.out("exec", "-T", "app1", "cat", "/tmp/in.txt") == "copied\n"
    assert project.out("exec", "-T", "-e", "X=1", "-w", "/data", "app1", "sh", "-c", "echo $X; pwd") == "1\n/data\n"

    # One-off run: a container of its own, removed with --rm, deps untouched.
    assert project.out("run", "--rm", "-T", "app1", "cat", "/data/test.txt") == "Hello\n"
    assert project.out("--profile", "jobs", "run", "--rm", "-T", "job") == "job done\n"
    assert len(_ps(project)) == 2

    assert "busybox" in project.out("images")
    assert name in project.out("ls")

    project.compose("kill", "app1")
    assert {r["Service"]: r["State"] for r in _ps(project)}["app1"] == "exited"
    project.compose("rm", "-f", "app1")
    assert [r["Service"] for r in _ps(project)] == ["app2"]

    # Scale up and back down; numbers follow Compose's.
    project.compose("up", "-d", "--scale", "app2=3", "app2")
    assert sorted(r["Name"] for r in _ps(project) if r["Service"] == "app2") == [
        f"{name}-app2-{i}" for i in (1, 2, 3)]
    project.compose("up", "-d", "--scale", "app2=1", "app2")
    assert [r["Name"] for r in _ps(project) if r["Service"] == "app2"] == [f"{name}-app2-1"]


def test_orphans_and_attached_up(project):
    project.write("compose.yaml", """\
        services:
          a: {image: busybox, command: ["sh", "-c", "echo from-a; exit 3"]}
          b: {image: busybox, command: ["sh", "-c", "sleep 30"]}
        """)
    out = project.compose("up", "--abort-on-container-exit", "--exit-code-from", "a", "-t", "0", check=False)
    assert out.returncode == 3, out.stderr.decode()
    assert "from-a" in out.stdout.decode()
    project.write("compose.yaml", "services:\n  a: {image: busybox, command: [sleep, '30']}\n")
    warn = project.compose("up", "-d").stderr.decode()
    assert "Found orphan containers" in warn
    project.compose("down", "--remove-orphans", "-t", "0")
    assert _ps(project) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("services:\n  a: {image: busybox, depends_on: [b]}\n  b: {image: busybox, depends_on: [a]}\n",
         "dependency cycle detected"),
        ("services:\n  a: {image: busybox, depends_on: [nope]}\n", "undefined service 'nope'"),
        ("services:\n  a:\n    image: busybox\n    ports: [{target: x}]\n", "services.a.ports[0]"),
        ("services:\n  a:\n   image: busybox\n  ports: [\n", "yaml: line"),
        ("services:\n  a:\n    image: busybox\n    healthcheck: {test: [CMD, 'true'], interval: soon}\n",
         'time: invalid duration "soon"'),
        ("services:\n  a: {image: busybox, mem_limit: lots}\n", "invalid size: 'lots'"),
    ],
)
def test_bad_input_creates_nothing(project, daemon, text, message):
    project.write("compose.yaml", text)
    result = project.compose("up", "-d", check=False)
    assert result.returncode != 0
    assert message in result.stderr.decode()
    assert project.path.name + "_default" not in daemon.cli("network", "ls").stdout.decode()
    assert project.compose("up", "-d", "nosuch", check=False).returncode != 0
    if "invalid" in message:  # what only the conversion judges: `config` refuses it too
        assert project.compose("config", "-q", check=False).returncode != 0


def test_build_push_and_pull_through_a_registry(project, tmp_path):
    """The seed's Flask shape (build a local Dockerfile, publish its port) with a busybox
    stand-in; a content change rebuilds and recreates only that service; push and pull
    go through a registry on 127.0.0.1."""
    registry = start_dockyard_registry(tmp_path / "registry")
    try:
        project.write("app/Dockerfile", """\
            FROM busybox
            WORKDIR /app
            COPY index.html .
            CMD ["httpd", "-f", "-p", "5000", "-h", "/app"]
            """)
        project.write("app/index.html", "Hello, Docker!\n")
        port = free_port()
        project.write("compose.yaml", f"""\
            services:
              web:
                build: ./app
                image: {registry.host}/seed/web:v1
                ports: ["{port}:5000"]
              client:
                image: busybox
                command: sh -c "sleep 300"
                depends_on: [web]
            """)
        project.compose("up", "-d", "--build")
        assert _get(port) == b"Hello, Docker!\n"
        client_id = project.out("ps", "-q", "client").strip()
        project.write("app/index.html", "Hello again\n")
        project.compose("up", "-d", "--build")
        assert _get(port) == b"Hello again\n"
        assert project.out("ps", "-q", "client").strip() == client_id  # untouched
        project.compose("push", "web")
        project.compose("down")
        project.daemon_cli("rmi", f"{registry.host}/seed/web:v1")
        project.compose("pull", "web")
        project.compose("up", "-d", "--no-build")
        assert _get(port) == b"Hello again\n"
    finally:
        registry.stop()


def _get(port: int) -> bytes:
    deadline = time.time() + 10
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=2) as response:
                return response.read()
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.1)


def test_secrets_and_configs_from_every_source(project):
    project.write("secret.txt", "file-secret\n")
    project.write("compose.yaml", """\
        services:
          app:
            image: busybox
            command: sh -c "sleep 300"
            secrets: [token, filesec]
            configs:
              - source: greeting
                target: /greeting
        secrets:
          token:
            environment: TOKEN_VALUE
          filesec:
            file: ./secret.txt
        configs:
          greeting:
            content: |
              hello from content
        """)
    project.compose("up", "-d", env={"TOKEN_VALUE": "s3cr3t"})
    out = project.out("exec", "-T", "app", "cat", "/run/secrets/token", "/run/secrets/filesec", "/greeting")
    assert out == "s3cr3tfile-secret\nhello from content\n"
