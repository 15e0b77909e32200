# SPDX-License-Identifier: Apache-2.0
"""Both directions of compatibility: `dockyard compose` driving a real Docker engine
(Debian's docker.io, on its own socket), and docker-compose 1.29 (the Python v1 tool,
Debian's docker-compose) driving dockyard's daemon with the seed projects."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.support.dockerd import running_dockerd

pytestmark = [pytest.mark.requires_root, pytest.mark.compat]

BIN = Path(sys.executable).parent

PROJECT = """\
    services:
      web:
        image: busybox
        command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
        depends_on: [db]
      db:
        image: busybox
        command: ["sh", "-c", "trap 'exit 0' TERM; echo boot >> /var/lib/db/boots; while true; do nc -l -p 5432 -e cat /var/lib/db/boots & wait $$!; done"]
        volumes: [db-data:/var/lib/db]
    volumes:
      db-data:
    """


def test_dockyard_compose_against_docker_engine(daemon, tmp_path):
    with running_dockerd() as engine:
        daemon.cli("run", "--rm", "busybox", "true")
        engine.docker("load", input=daemon.cli("save", "busybox").stdout)
        project = tmp_path / "seedapp"
        project.mkdir()
        (project / "compose.yaml").write_text(textwrap.dedent(PROJECT))

        def compose(*args: str) -> str:
            result = subprocess.run([str(BIN / "dockyard"), "-H", engine.host, "compose", *args], cwd=project,
                                    capture_output=True, timeout=120)
            assert result.returncode == 0, result.stderr.decode()
            return result.stdout.decode()

        compose("up", "-d")
        # Docker's own view: Compose's names and labels.
        names = engine.docker("ps", "--format", "{{.Names}}").stdout.decode().split()
        assert sorted(names) == ["seedapp-db-1", "seedapp-web-1"]
        labels = json.loads(engine.docker("inspect", "seedapp-web-1").stdout)[0]["Config"]["Labels"]
        assert labels["com.docker.compose.project"] == "seedapp"
        assert labels["com.docker.compose.service"] == "web"
        assert "seedapp_default" in engine.docker("network", "ls").stdout.decode()
        # The web service reaches the database by name through Docker's embedded DNS.
        assert compose("exec", "-T", "web", "sh", "-c", "nc db 5432 </dev/null") == "boot\n"
        assert "Recreate" not in subprocess.run(
            [str(BIN / "dockyard"), "-H", engine.host, "compose", "up", "-d"], cwd=project,
            capture_output=True).stderr.decode()
        compose("down")
        assert engine.docker("ps", "-aq").stdout.strip() == b""
        assert "seedapp_db-data" in engine.docker("volume", "ls").stdout.decode()


SEED_NGINX_MYSQL = """\
    version: '3'
    services:
      web:
        image: busybox
        command: ["sh", "-c", "mkdir -p /www && echo page > /www/index.html && exec httpd -f -p 80 -h /www"]
        depends_on:
          - db
      db:
        image: busybox
        environment:
          MYSQL_ROOT_PASSWORD: 1234
        command: ["sh", "-c", "trap 'exit 0' TERM; echo db-up; sleep 3600 & wait"]
        volumes:
          - db-data:/var/lib/mysql
    volumes:
      db-data:
    """


def test_docker_compose_v1_against_dockyard(daemon, tmp_path):
    tool = shutil.which("docker-compose")
    if tool is None:
        pytest.skip("docker-compose 1.29 (Debian's docker-compose) is not installed")
    project = tmp_path / "seedv1"
    project.mkdir()
    (project / "docker-compose.yml").write_text(textwrap.dedent(SEED_NGINX_MYSQL))
    env = {**os.environ, "DOCKER_HOST": daemon.host, "COMPOSE_INTERACTIVE_NO_CLI": "1"}

    def v1(*args: str) -> str:
        result = subprocess.run([tool, *args], cwd=project, capture_output=True, timeout=120, env=env)
        assert result.returncode == 0, result.stderr.decode()
        return result.stdout.decode()

    daemon.cli("run", "--rm", "busybox", "true")
    v1("up", "-d")
    ps = v1("ps")
    assert "seedv1_web_1" in ps and "seedv1_db_1" in ps and "Up" in ps
    deadline = time.monotonic() + 10
    while "db-up" not in v1("logs", "--no-color", "db") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert re.search(r"^db_1 +\| db-up$", v1("logs", "--no-color", "db"), re.M)
    # dockyard compose sees v1's project too: the labels are the same.
    ours = subprocess.run([str(BIN / "dockyard"), "-H", daemon.host, "compose", "ps", "--services"],
                          cwd=project, capture_output=True).stdout.decode()
    assert sorted(ours.split()) == ["db", "web"]
    v1("down", "-t", "1")
    assert "seedv1" not in daemon.cli("ps", "-a").stdout.decode()
    assert "seedv1_db-data" in daemon.cli("volume", "ls").stdout.decode()
    daemon.cli("volume", "rm", "seedv1_db-data")
