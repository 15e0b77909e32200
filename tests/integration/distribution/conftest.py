# SPDX-License-Identifier: Apache-2.0
"""Registries on 127.0.0.1 for the distribution tests: dockyard's own (`registry serve`),
Debian's `docker-registry`, a test CA with a server certificate, and htpasswd files."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.registry import (
    RegistryProcess,
    start_dockyard_registry,
)

BIN = Path(sys.executable).parent
USER, PASSWORD = "tester", "s3cret-pw"


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[RegistryProcess]:
    reg = start_dockyard_registry(tmp_path / "registry")
    yield reg
    reg.stop()


@dataclass
class TLSFiles:
    ca: Path
    cert: Path
    key: Path
    other_ca: Path  # a CA that did not sign the server's certificate


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    if not shutil.which("openssl"):
        pytest.skip("needs openssl")
    d = tmp_path_factory.mktemp("tls")

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=d)

    for name in ("ca", "other"):
        run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN=dockyard test {name}",
            "-keyout", f"{name}.key", "-out", f"{name}.crt")
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server.key",
        "-out", "server.csr")
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-days", "2", "-extfile", "san.ext", "-out", "server.crt")
    return TLSFiles(d / "ca.crt", d / "server.crt", d / "server.key", d / "other.crt")


@pytest.fixture(scope="session")
def htpasswd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bcrypt htpasswd file (as `htpasswd -B` writes) with USER:PASSWORD."""
    import crypt  # noqa: F401  (deprecated but present on 3.11; mirrors the server)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt as c
    path = tmp_path_factory.mktemp("auth") / "htpasswd"
    hashed = c.crypt(PASSWORD, c.mksalt(c.METHOD_BLOWFISH))
    path.write_text(f"{USER}:{hashed.replace('$2b$', '$2y$', 1)}\n")
    return path


@contextlib.contextmanager
def trusted_ca(host: str, ca: Path) -> Iterator[Path]:
    """Put `ca` in /etc/dockyard/certs.d/<host>/ (where the daemon looks), then remove it."""
    directory = Path("/etc/dockyard/certs.d") / host
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(ca, directory / "ca.crt")
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)
