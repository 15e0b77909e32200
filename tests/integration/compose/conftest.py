# SPDX-License-Identifier: Apache-2.0
"""Compose integration fixtures: run `dockyard compose` in a project directory against
the session's test daemon."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if Path(item.fspath).is_relative_to(here):
            item.add_marker(pytest.mark.requires_root)


class ProjectDir:
    """A directory holding a compose file, and `compose(...)` run there."""

    def __init__(self, path: Path, host: str):
        self.path = path
        self.host = host

    def write(self, name: str, text: str) -> Path:
        target = self.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text))
        return target

    def compose(self, *args: str, check: bool = True, timeout: float = 60, env: dict | None = None,
                input: bytes = b"") -> subprocess.CompletedProcess:
        argv = [str(BIN / "dockyard"), "-H", self.host, "compose", *args]
        result = subprocess.run(argv, cwd=self.path, capture_output=True, timeout=timeout, input=input,
                                env={**os.environ, **(env or {})})
        if check and result.returncode != 0:
            raise AssertionError(f"compose {' '.join(args)} exited {result.returncode}\n"
                                 f"stdout: {result.stdout.decode()}\nstderr: {result.stderr.decode()}")
        return result

    def daemon_cli(self, *args: str) -> subprocess.CompletedProcess:
        """Plain `dockyard ARGS` against the project's daemon."""
        return subprocess.run([str(BIN / "dockyard"), "-H", self.host, *args], capture_output=True, check=True)

    def out(self, *args: str, **kw) -> str:
        return self.compose(*args, **kw).stdout.decode()


@pytest.fixture
def project(daemon, tmp_path_factory, request):
    path = tmp_path_factory.mktemp("proj") / request.node.name[:20].replace("[", "_").replace("]", "").lower()
    path.mkdir()
    p = ProjectDir(path, daemon.host)
    yield p
    if (path / "compose.yaml").exists() or (path / "docker-compose.yml").exists():
        p.compose("down", "-v", "-t", "0", "--remove-orphans", check=False)
