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


@pytest.fixture
def fresh_daemon():
    """A daemon of a test's own, for tests that stop or kill it."""
    with running_daemon() as handle:
        yield handle
