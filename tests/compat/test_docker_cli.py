# SPDX-License-Identifier: Apache-2.0
"""The official docker CLI, unchanged, driving dockyard's daemon over its socket."""

from __future__ import annotations

import json

import pytest

pytestmark = [pytest.mark.requires_root, pytest.mark.compat]


def test_docker_run_echo(daemon):
    assert daemon.docker("run", "--rm", "busybox", "echo", "hi").stdout == b"hi\n"


def test_docker_exit_code_and_stderr(daemon):
    result = daemon.docker("run", "--rm", "busybox", "sh", "-c", "echo err >&2; exit 4", check=False)
    assert result.returncode == 4 and result.stderr == b"err\n"


def test_docker_missing_command_is_127(daemon):
    result = daemon.docker("run", "--rm", "busybox", "no-such-command", check=False)
    assert result.returncode == 127
    assert b"executable file not found" in result.stderr


def test_docker_stdin(daemon):
    assert daemon.docker("run", "-i", "--rm", "busybox", "cat", input=b"piped\n").stdout == b"piped\n"


def test_docker_detached_lifecycle(daemon):
    cid = daemon.docker("run", "-d", "--name", "dk-sleeper", "busybox", "sh", "-c",
                        "echo up; sleep 300").stdout.decode().strip()
    assert "dk-sleeper" in daemon.docker("ps").stdout.decode()
    inspected = json.loads(daemon.docker("inspect", "dk-sleeper").stdout)[0]
    assert inspected["Id"] == cid and inspected["State"]["Running"]
    assert inspected["Config"]["Cmd"] == ["sh", "-c", "echo up; sleep 300"]
    assert daemon.docker("logs", "dk-sleeper").stdout == b"up\n"
    daemon.docker("stop", "-t", "1", "dk-sleeper")
    assert "Exited (137)" in daemon.docker("ps", "-a").stdout.decode()
    daemon.docker("rm", "dk-sleeper")
    assert "dk-sleeper" not in daemon.docker("ps", "-a").stdout.decode()


def test_docker_images_and_inspect(daemon):
    daemon.docker("run", "--rm", "busybox", "true")
    assert "busybox" in daemon.docker("images").stdout.decode()
    image = json.loads(daemon.docker("image", "inspect", "busybox").stdout)[0]
    assert image["Os"] == "linux" and image["RootFS"]["Type"] == "layers"
    daemon.docker("tag", "busybox", "dk/box:1")
    assert b"Untagged: dk/box:1" in daemon.docker("rmi", "dk/box:1").stdout


def test_docker_version_and_info(daemon):
    version = json.loads(daemon.docker("version", "--format", "{{json .Server}}").stdout)
    assert version["ApiVersion"] == "1.45"
    info = daemon.docker("info", "--format", "{{.Driver}} {{.OSType}}").stdout.decode().strip()
    assert info == "overlay2 linux"
