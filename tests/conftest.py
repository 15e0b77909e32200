# SPDX-License-Identifier: Apache-2.0
"""Shared fixtures: a daemon per session (`daemon`) or per test (`fresh_daemon`)."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.support.daemon import running_daemon


def pytest_collection_modifyitems(config, items):
    root_ok = os.geteuid() == 0 and shutil.which("runc") and shutil.which("conmon")
    for item in items:
        if "requires_root" in item.keywords and not root_ok:
            item.add_marker(pytest.mark.skip(reason="needs root, runc and conmon"))


@pytest.fixture(scope="session")
def daemon():
    """A daemon shared by the integration tests of one session."""
    with running_daemon() as handle:
        yield handle


@pytest.fixture(scope="session")
def base_image(daemon):
    """`base_image(name)`: an offline base image (python, nginx, …) made in the session's
    daemon. The first bootstrap on a machine builds from Debian packages (a minute or more
    per image); later ones, in any daemon, load the machine-wide cache in about a second."""
    from dockyard.baseimages import recipes

    made: dict[str, str] = {}

    def ensure(name: str) -> str:
        recipe = recipes.lookup(name)
        if recipe.name not in made:
            daemon.cli("image", "bootstrap", recipe.name, timeout=1200)
            made[recipe.name] = recipe.primary
        return made[recipe.name]

    return ensure


@pytest.fixture
def fresh_daemon():
    """A daemon of a test's own, for tests that stop or kill it."""
    with running_daemon() as handle:
        yield handle
