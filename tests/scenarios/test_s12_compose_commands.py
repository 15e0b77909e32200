# SPDX-License-Identifier: Apache-2.0
"""Scenario 12, compose commands [seed 001, 3.3; seed 002 "docker-compose up {특정 서비스}"]:
up (-d, --build, one service), down, start, stop, restart, pause, unpause, build, pull,
logs (-f), ps and exec, on a project of a built service and a pulled one."""

from __future__ import annotations

import pytest

from tests.scenarios.helpers import (
    free_port,
    http_get,
    read_until,
    stop_stream,
    unique,
    wait_for,
    wait_http,
)

pytestmark = [pytest.mark.requires_root, pytest.mark.scenario, pytest.mark.timeout(1800)]

PROJECT = """\
    version: '3'
    services:
      web:
        build: ./web
        image: {image}
        ports:
          - "{port}:80"
      cache:
        image: redis:latest
    """

WEB_DOCKERFILE = """\
FROM busybox
COPY index.html /www/index.html
CMD ["sh", "-c", "echo web starting; exec httpd -f -p 80 -h /www"]
"""


def test_compose_commands(compose, dockyard, made):
    port = free_port()
    image = made.image(f"{unique('scn12-web')}:latest")
    compose.write(PROJECT.format(image=image, port=port))
    web = compose.directory / "web"
    web.mkdir()
    (web / "Dockerfile").write_text(WEB_DOCKERFILE)
    (web / "index.html").write_text("page one\n")
    url = f"http://127.0.0.1:{port}/"

    # build: the image of the service with a build section, under its `image` name.
    compose("build", timeout=600)
    assert dockyard("image", "inspect", image, check=False).rc == 0
    assert compose.ids() == []
    # pull: the images of the services that have one to pull.
    compose("pull", "cache", timeout=1500)
    assert dockyard("image", "inspect", "redis:latest", check=False).rc == 0

    # up -d SERVICE: just that one.
    compose("up", "-d", "cache", timeout=600)
    assert compose.ids("web") == [] and compose.state("cache")["Running"]

    # up -d --build: rebuilt with the new page, everything up.
    (web / "index.html").write_text("page two\n")
    compose("up", "-d", "--build", timeout=600)
    assert wait_http(url, timeout=30) == "page two\n"
    assert compose.state("web")["Running"] and compose.state("cache")["Running"]

    ps = compose("ps").out
    assert "web" in ps and "cache" in ps, ps
    assert ps.count("Up") + ps.lower().count("running") >= 2, ps
    services = compose("ps", "--services").out.split()
    assert sorted(services) == ["cache", "web"], services

    # exec (-T: no terminal here)
    wait_for(lambda: compose("exec", "-T", "cache", "redis-cli", "ping", check=False).out.strip() == "PONG", 60,
             what="redis to answer PING")
    assert compose("exec", "-T", "web", "cat", "/www/index.html").out == "page two\n"

    # logs, and logs -f following new output.
    logs = wait_for(lambda: (lambda t: t if "web starting" in t and "Ready to accept connections" in t else None)(
        compose("logs", "--no-color").out), 60, what="both services' logs")
    # Each line is prefixed by its container (`web_1 |`, `<project>-web-1 |`).
    assert any(line.rstrip().endswith("| web starting") and "web" in line.split("|")[0]
               for line in logs.splitlines()), logs
    follow = compose.popen("logs", "-f", "--no-color", "web")
    made.processes.append(follow)
    read_until(follow, "web starting", timeout=30)
    marker = unique("followed")
    compose("exec", "-T", "web", "sh", "-c", f"echo {marker} > /proc/1/fd/1")
    read_until(follow, marker, timeout=30)
    stop_stream(follow)

    # pause / unpause
    compose("pause")
    assert compose.state("web")["Paused"] and compose.state("cache")["Paused"]
    assert "paused" in compose("ps").out.lower()
    with pytest.raises(OSError):  # a paused server does not answer
        http_get(url, timeout=1.5)
    compose("unpause")
    assert not compose.state("web")["Paused"] and compose.state("web")["Running"]
    assert wait_http(url, timeout=20) == "page two\n"

    # stop / start / restart
    compose("stop", "-t", "2")
    for service in ("web", "cache"):
        assert compose.state(service)["Status"] == "exited"
    assert len(compose.ids()) == 2  # stopped, not removed
    compose("start")
    assert compose.state("web")["Running"] and compose.state("cache")["Running"]
    assert wait_http(url, timeout=20) == "page two\n"
    started = compose.state("web")["StartedAt"]
    compose("restart", "-t", "2")
    assert compose.state("web")["StartedAt"] != started and compose.state("web")["Running"]
    assert wait_http(url, timeout=20) == "page two\n"

    # down: containers and the project network go; the images stay.
    compose("down", "-t", "2")
    assert compose.ids() == []
    assert f"{compose.project}_default" not in dockyard.out("network", "ls", "--format", "{{.Name}}").split()
    assert dockyard("image", "inspect", image, check=False).rc == 0
