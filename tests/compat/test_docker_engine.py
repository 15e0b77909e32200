# SPDX-License-Identifier: Apache-2.0
"""Differential tests against a real Docker engine: images move both ways through
save/load with the same IDs and the same file trees."""

from __future__ import annotations

import json

import pytest

from tests.support.dockerd import running_dockerd

pytestmark = [pytest.mark.requires_root, pytest.mark.compat]


@pytest.fixture(scope="module")
def engine():
    with running_dockerd() as handle:
        yield handle


def test_dockyard_save_runs_in_docker(daemon, engine, tmp_path):
    daemon.cli("run", "--rm", "busybox", "true")
    daemon.cli("run", "--rm", "hello-world")
    archive = tmp_path / "out.tar"
    daemon.cli("save", "-o", str(archive), "busybox", "hello-world")
    loaded = engine.docker("load", "-i", str(archive)).stdout.decode()
    assert "Loaded image: busybox:latest" in loaded and "Loaded image: hello-world:latest" in loaded
    ours = json.loads(daemon.cli("image", "inspect", "busybox").stdout)[0]
    theirs = json.loads(engine.docker("image", "inspect", "busybox").stdout)[0]
    assert ours["Id"] == theirs["Id"]
    assert ours["RootFS"] == theirs["RootFS"]
    assert ours["Config"]["Cmd"] == theirs["Config"]["Cmd"]
    out = engine.docker("run", "--rm", "--network", "none", "busybox", "echo", "ran in docker").stdout
    assert out == b"ran in docker\n"
    assert b"Hello from dockyard!" in engine.docker("run", "--rm", "--network", "none", "hello-world").stdout


def test_docker_save_runs_in_dockyard(daemon, engine, tmp_path):
    daemon.cli("run", "--rm", "busybox", "true")
    archive = tmp_path / "bb.tar"
    daemon.cli("save", "-o", str(archive), "busybox")
    engine.docker("load", "-i", str(archive))
    engine.docker("run", "--name", "mk", "--network", "none", "busybox", "sh", "-c",
                  "echo made-in-docker > /marker && rm /bin/vi")
    engine.docker("commit", "-c", 'CMD ["cat", "/marker"]', "mk", "fromdocker:1")
    engine.docker("rm", "mk")
    saved = engine.docker("save", "fromdocker:1").stdout
    assert "Loaded image: fromdocker:1" in daemon.cli("load", input=saved).stdout.decode()
    image_id = engine.docker("image", "inspect", "-f", "{{.Id}}", "fromdocker:1").stdout.strip()
    assert daemon.cli("image", "inspect", "-f", "{{.Id}}", "fromdocker:1").stdout.strip() == image_id
    assert daemon.cli("run", "--rm", "fromdocker:1").stdout == b"made-in-docker\n"
    gone = daemon.cli("run", "--rm", "fromdocker:1", "ls", "/bin/vi", check=False)
    assert gone.returncode == 1  # the whiteout from docker's layer hides it
    daemon.cli("rmi", "fromdocker:1")
