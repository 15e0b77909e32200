# SPDX-License-Identifier: Apache-2.0
"""Test PKI made with `openssl`: a CA, a server certificate for 127.0.0.1/localhost and
client certificates, plus a free loopback port for TCP listeners."""

from __future__ import annotations

import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class TestPKI:
    """Paths of the PEM files of one test CA and the certificates it signed."""

    __test__ = False  # not a test class, whatever pytest thinks of the name

    ca: Path
    server_cert: Path
    server_key: Path
    client_dir: Path  # ca.pem, cert.pem, key.pem: what DOCKER_CERT_PATH points at
    rogue_dir: Path  # a client certificate signed by another CA


def make_pki(base: Path) -> TestPKI:
    """A CA and certificates under `base`, valid for a day."""
    if not shutil.which("openssl"):
        pytest.skip("no openssl")
    base.mkdir(parents=True, exist_ok=True)
    ca, ca_key = _make_ca(base, "ca")
    server_cert, server_key = _make_leaf(base, "server", ca, ca_key, "serverAuth",
                                         "subjectAltName=IP:127.0.0.1,DNS:localhost")
    client_cert, client_key = _make_leaf(base, "client", ca, ca_key, "clientAuth")
    client_dir = base / "client"
    client_dir.mkdir()
    shutil.copy(ca, client_dir / "ca.pem")
    shutil.copy(client_cert, client_dir / "cert.pem")
    shutil.copy(client_key, client_dir / "key.pem")
    other_ca, other_key = _make_ca(base, "rogue-ca")
    rogue_cert, rogue_key = _make_leaf(base, "rogue", other_ca, other_key, "clientAuth")
    rogue_dir = base / "rogue"
    rogue_dir.mkdir()
    shutil.copy(ca, rogue_dir / "ca.pem")
    shutil.copy(rogue_cert, rogue_dir / "cert.pem")
    shutil.copy(rogue_key, rogue_dir / "key.pem")
    return TestPKI(ca, server_cert, server_key, client_dir, rogue_dir)


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _make_ca(base: Path, name: str) -> tuple[Path, Path]:
    cert, key = base / f"{name}.pem", base / f"{name}-key.pem"
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", f"/CN=dockyard test {name}",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return cert, key


def _make_leaf(base: Path, name: str, ca: Path, ca_key: Path, usage: str,
               *extensions: str) -> tuple[Path, Path]:
    cert, key, csr, ext = (base / f"{name}-cert.pem", base / f"{name}-key.pem",
                           base / f"{name}.csr", base / f"{name}.ext")
    ext.write_text("\n".join([f"extendedKeyUsage={usage}", "basicConstraints=CA:FALSE",
                              "keyUsage=critical,digitalSignature,keyEncipherment",
                              "authorityKeyIdentifier=keyid", "subjectKeyIdentifier=hash",
                              *extensions]) + "\n")
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={name}")
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
             "-CAcreateserial", "-out", str(cert), "-days", "1", "-extfile", str(ext))
    return cert, key


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=30)
