# SPDX-License-Identifier: Apache-2.0
"""Storage integration fixtures: an image service on a temporary data root (needs root)."""

import os
from pathlib import Path

import pytest

from dockyard.config import DaemonConfig
from dockyard.images import ImageService
from dockyard.metadata.db import MetadataDB


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if Path(item.fspath).is_relative_to(here):
            item.add_marker(pytest.mark.requires_root)
            if os.geteuid() != 0:
                item.add_marker(pytest.mark.skip(reason="needs root (layers keep owners, overlay mounts)"))


def make_service(root: Path) -> ImageService:
    config = DaemonConfig(data_root=root / "data", exec_root=root / "run")
    return ImageService(config, MetadataDB(config.db_path))


@pytest.fixture
def service(tmp_path):
    svc = make_service(tmp_path / "a")
    yield svc
    svc.db.close()


@pytest.fixture
def other_service(tmp_path):
    svc = make_service(tmp_path / "b")
    yield svc
    svc.db.close()
