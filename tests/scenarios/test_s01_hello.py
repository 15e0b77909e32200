# SPDX-License-Identifier: Apache-2.0
"""Scenario 1, hello world [seeds 000, 001]: `--version`, `info`, `run hello-world`."""

from __future__ import annotations

import re

import pytest

from tests.scenarios.helpers import unique

pytestmark = [pytest.mark.requires_root, pytest.mark.scenario, pytest.mark.timeout(1800)]


def test_hello_world(client, made):
    version = client.out("--version")
    if client.kind == "dockyard":
        assert re.match(r"dockyard version \S+, build \S+", version), version
    else:
        assert re.match(r"Docker version 2\d\.", version), version
    # Both CLIs ask the daemon for its version too.
    server = client.out("version", "--format", "{{.Server.Version}}").strip()
    assert server and server != "<no value>"

    info = client.out("info")
    assert "Server Version:" in info and "Containers:" in info and "Images:" in info, info
    assert "Storage Driver: overlay" in info, info

    name = made.container(unique("hello"))
    run = client("run", "--name", name, "hello-world")
    # dockyard's hello-world greets as dockyard (the official image says "Hello from
    # Docker!"); either way it says the installation works and explains what happened:
    # client -> daemon -> image -> container -> output back to the client.
    assert re.search(r"^Hello from (dockyard|Docker)!$", run.out, re.M), run.out
    assert "installation" in run.out and "working" in run.out
    explained = run.out.split("what just happened:")[1]
    steps = re.findall(r"^ (\d)\. ", explained, re.M)
    assert steps[:4] == ["1", "2", "3", "4"], run.out
    for word in ("client", "daemon", '"hello-world" image', "container", "output"):
        assert word in explained, (word, run.out)
    # The container ran to completion and is listed as exited.
    state = client.inspect(name)["State"]
    assert state["Status"] == "exited" and state["ExitCode"] == 0
    assert name in client.out("ps", "-a", "--filter", f"name={name}")
    assert name not in client.out("ps")
    assert "hello-world" in client.out("images", "hello-world")
