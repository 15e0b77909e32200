# SPDX-License-Identifier: Apache-2.0
"""Fixtures of the acceptance scenarios (shared/SCENARIOS.md, the seed tutorials' walkthroughs).

One daemon for the whole session, started with `--bootstrap`: the official images the
seeds use (python, node, nginx, httpd, mysql, redis, debian…) are made offline the first
time a pull, a build's FROM or a `run` needs them, and later daemons load them from the
machine-wide cache. Every scenario runs once with `dockyard` and once with the official
docker CLI pointed at the same daemon (`client`), and the compose scenarios once with
`dockyard compose` and once with docker-compose 1.29 (`compose`).
"""

from __future__ import annotations

import os
import shutil

import pytest

from tests.scenarios.helpers import Client, Compose, Tracker, unique
from tests.support.daemon import running_daemon


def pytest_configure(config):
    config.addinivalue_line("markers", "scenario: an acceptance scenario of shared/SCENARIOS.md, run end to end")


@pytest.fixture(scope="session")
def scenario_daemon():
    """The daemon every scenario talks to; it makes missing official images offline.

    DOCKYARD_SCENARIO_BASE_IMAGE_CACHE=DIR gives it another machine-wide base-image cache
    (an empty directory: measure a first run, building every image, without touching the
    machine's real cache)."""
    flags = ["--bootstrap"]
    cache = os.environ.get("DOCKYARD_SCENARIO_BASE_IMAGE_CACHE")
    if cache is not None:
        flags += ["--base-image-cache", cache]
    with running_daemon(flags) as handle:
        yield handle


@pytest.fixture
def made(scenario_daemon):
    """Records what a test creates; removes it afterwards, pass or fail."""
    tracker = Tracker(scenario_daemon)
    try:
        yield tracker
    finally:
        tracker.cleanup()


@pytest.fixture(params=["dockyard", "docker"])
def client(request, scenario_daemon, tmp_path):
    if request.param == "docker" and not shutil.which("docker"):
        pytest.skip("the official docker CLI is not installed")
    return Client(request.param, scenario_daemon, tmp_path / f"{request.param}-config")


@pytest.fixture
def dockyard(scenario_daemon, tmp_path):
    """The dockyard CLI, for setup and checks that are not the step under test."""
    return Client("dockyard", scenario_daemon, tmp_path / "dockyard-admin-config")


@pytest.fixture(params=["dockyard-compose", "docker-compose"])
def compose(request, scenario_daemon, tmp_path, made):
    """A compose tool on a fresh project directory with a unique project name; the
    project is taken down (with its volumes) afterwards."""
    if request.param == "docker-compose" and not shutil.which("docker-compose"):
        pytest.skip("docker-compose 1.29 (Debian's docker-compose) is not installed")
    project = unique(request.node.originalname.replace("test_", "").replace("_", "")[:12]).lower()
    directory = tmp_path / "project"
    directory.mkdir()
    tool = Compose(request.param, scenario_daemon, directory, project, tmp_path / "compose-config")
    made.composes.append(tool)
    return tool
