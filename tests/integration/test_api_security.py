# SPDX-License-Identifier: Apache-2.0
"""Who can reach the API: the unix socket's mode and group, TCP only with TLS and client
certificates (answered by `dockyard --tlsverify` and the official docker CLI), and the
daemon's refusals of plain TCP and of unknown groups."""

from __future__ import annotations

import grp
import os
import shutil
import ssl
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.support.daemon import BIN, running_daemon
from tests.support.tls import TestPKI, free_port, make_pki

pytestmark = pytest.mark.requires_root


@pytest.fixture(scope="module")
def pki():
    base = Path(tempfile.mkdtemp(prefix="dockyard-pki-"))
    try:
        yield make_pki(base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def socket_group() -> str:
    """An existing group other than root's and dockyard's, for `--group`."""
    for name in ("docker", "nogroup", "daemon", "adm"):
        try:
            grp.getgrnam(name)
        except KeyError:
            continue
        return name
    pytest.skip("no spare group for --group")


@pytest.fixture(scope="module")
def tls_daemon(pki: TestPKI, socket_group: str):
    """A daemon on its unix socket (group `socket_group`) and on TLS TCP 127.0.0.1:PORT."""
    port = free_port()
    flags = ["-H", f"tcp://127.0.0.1:{port}", "--bridge", "none", "--group", socket_group,
             "--tlsverify", "--tlscacert", str(pki.ca), "--tlscert", str(pki.server_cert),
             "--tlskey", str(pki.server_key)]
    with running_daemon(flags) as handle:
        handle.tcp_url = f"tcp://127.0.0.1:{port}"
        yield handle


def test_default_socket_is_0660_group_dockyard(daemon):
    info = os.stat(daemon.socket)
    assert stat.S_ISSOCK(info.st_mode)
    assert stat.S_IMODE(info.st_mode) == 0o660
    assert info.st_uid == 0
    assert grp.getgrgid(info.st_gid).gr_name == "dockyard"


def test_group_flag_names_the_socket_group(tls_daemon, socket_group):
    info = os.stat(tls_daemon.socket)
    assert stat.S_IMODE(info.st_mode) == 0o660
    assert grp.getgrgid(info.st_gid).gr_name == socket_group


def test_unknown_group_is_refused(tmp_path):
    result = _dockyardd(tmp_path, "-H", f"unix://{tmp_path}/d.sock", "--group", "no-such-group-dyt")
    assert result.returncode == 1
    assert result.stderr.strip() == "dockyardd: group no-such-group-dyt for the API socket not found"
    assert not (tmp_path / "d.sock").exists()


def test_dockyard_cli_over_tls_with_client_certificate(tls_daemon, pki):
    out = _dockyard("--tlsverify", "-H", tls_daemon.tcp_url,
                    "--tlscacert", str(pki.client_dir / "ca.pem"),
                    "--tlscert", str(pki.client_dir / "cert.pem"),
                    "--tlskey", str(pki.client_dir / "key.pem"),
                    "version", "--format", "{{.Server.ApiVersion}}")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "1.45"


def test_dockyard_cli_tls_from_environment(tls_daemon, pki):
    env = {**os.environ, "DOCKER_HOST": tls_daemon.tcp_url, "DOCKER_TLS_VERIFY": "1",
           "DOCKER_CERT_PATH": str(pki.client_dir)}
    env.pop("DOCKYARD_HOST", None)
    out = _dockyard("volume", "create", "tls-env-vol", env=env)
    assert out.returncode == 0, out.stderr
    try:
        listed = _dockyard("volume", "ls", "-q", env=env)
        assert "tls-env-vol" in listed.stdout.split()
    finally:
        _dockyard("volume", "rm", "tls-env-vol", env=env)


def test_official_docker_cli_over_tls(tls_daemon, pki, tmp_path):
    docker = shutil.which("docker")
    if not docker:
        pytest.skip("no docker CLI installed")
    env = {**os.environ, "DOCKER_CONFIG": str(tmp_path / "docker-config")}
    for key in ("DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_CONTEXT"):
        env.pop(key, None)
    out = subprocess.run(
        [docker, "--tlsverify", "-H", tls_daemon.tcp_url,
         "--tlscacert", str(pki.client_dir / "ca.pem"), "--tlscert", str(pki.client_dir / "cert.pem"),
         "--tlskey", str(pki.client_dir / "key.pem"), "info", "--format", "{{.Name}}|{{.ID}}"],
        capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().count("|") == 1
    assert out.stdout.strip().split("|")[0]


def test_client_without_certificate_is_refused(tls_daemon, pki, tmp_path):
    certless = tmp_path / "certless"
    certless.mkdir()
    shutil.copy(pki.ca, certless / "ca.pem")
    env = {**os.environ, "DOCKER_CERT_PATH": str(certless)}
    out = _dockyard("--tlsverify", "-H", tls_daemon.tcp_url, "ps", env=env)
    assert out.returncode != 0
    assert "tls" in out.stderr.lower()
    assert "Traceback" not in out.stderr
    # The same at the TLS layer: the handshake completes or not, but no HTTP answer comes.
    context = ssl.create_default_context(cafile=str(pki.ca))
    with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
        _raw_ping(tls_daemon.tcp_url, context)


def test_client_certificate_from_another_ca_is_refused(tls_daemon, pki):
    env = {**os.environ, "DOCKER_CERT_PATH": str(pki.rogue_dir)}
    out = _dockyard("--tlsverify", "-H", tls_daemon.tcp_url, "ps", env=env)
    assert out.returncode != 0
    assert "tls" in out.stderr.lower()
    # With the right certificate the same request is answered.
    context = ssl.create_default_context(cafile=str(pki.ca))
    context.load_cert_chain(pki.client_dir / "cert.pem", pki.client_dir / "key.pem")
    assert _raw_ping(tls_daemon.tcp_url, context).startswith(b"HTTP/1.1 200")


def test_plain_http_to_tls_listener_gets_no_api(tls_daemon):
    import socket

    host, port = tls_daemon.tcp_url[len("tcp://"):].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            answer = sock.recv(4096)
        except ConnectionResetError:
            answer = b""
    assert b"OK" not in answer


def test_plain_tcp_is_refused(tmp_path):
    port = free_port()
    result = _dockyardd(tmp_path, "-H", f"tcp://127.0.0.1:{port}")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"dockyardd: refusing to listen on tcp://127.0.0.1:{port} without TLS: use --tlsverify "
        "with --tlscacert, --tlscert and --tlskey, or --tls=false to accept the risk")
    # --tls without --tlsverify checks no client certificate: refused as well.
    result = _dockyardd(tmp_path, "-H", f"tcp://127.0.0.1:{port}", "--tls")
    assert result.returncode == 1
    assert "without --tlsverify" in result.stderr


def test_forced_plain_tcp_warns(tmp_path):
    """`--tls=false` is the explicit opt-in; the daemon says what it means on stderr."""
    port = free_port()
    with running_daemon(["-H", f"tcp://127.0.0.1:{port}", "--tls=false", "--bridge", "none"]) as handle:
        out = _dockyard("-H", f"tcp://127.0.0.1:{port}", "version", "--format",
                        "{{.Server.ApiVersion}}")
        assert out.stdout.strip() == "1.45", out.stderr
        assert f"API listening on tcp://127.0.0.1:{port} without TLS" in handle.log_text()


def test_unix_socket_cli_does_not_load_ssl(daemon):
    code = ("import sys; from dockyard.cli.main import main; rc = main(['-H', sys.argv[1], 'ps', '-q']);"
            " print('ssl' in sys.modules); sys.exit(rc)")
    out = subprocess.run([sys.executable, "-c", code, daemon.host], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "False"


def _raw_ping(url: str, context: ssl.SSLContext) -> bytes:
    import socket

    host, port = url[len("tcp://"):].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname=host) as sock:
        sock.sendall(b"GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n")
        answer = sock.recv(4096)
        if not answer:
            raise ConnectionResetError("closed without an answer")
        return answer


def _dockyard(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "dockyard"), *args], capture_output=True, text=True,
                          timeout=60, env=env)


def _dockyardd(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """A daemon that is expected to refuse to start (it would need its own roots otherwise)."""
    return subprocess.run(
        [str(BIN / "dockyardd"), "--data-root", str(tmp_path / "data"), "--exec-root",
         str(tmp_path / "exec"), "--bridge", "none", "--nftables-table", "dyt_refused", *args],
        capture_output=True, text=True, timeout=30)
