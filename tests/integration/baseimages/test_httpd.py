# SPDX-License-Identifier: Apache-2.0
"""The httpd stand-in (Debian's Apache in the official /usr/local/apache2 layout): "It
works!" on a published port, requests in `logs`, `cp` into htdocs of a running container
changing what is served, and the configuration test of conf/httpd.conf."""

from __future__ import annotations

import json
import socket
import time
import urllib.request
import uuid

import pytest

pytestmark = pytest.mark.requires_root

HTDOCS = "/usr/local/apache2/htdocs"


def _unique(kind: str) -> str:
    return f"test-httpd-{kind}-{uuid.uuid4().hex[:10]}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _http_get(url: str, timeout: float = 3) -> str:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=timeout) as response:
        return response.read().decode()


def _wait_http(daemon, container: str, url: str, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return _http_get(url)
        except OSError:
            if time.monotonic() > deadline:
                logs = daemon.cli("logs", container, check=False)
                raise AssertionError(f"{url} did not answer:\n{logs.stdout.decode(errors='replace')}"
                                     f"{logs.stderr.decode(errors='replace')}") from None
            time.sleep(0.1)


def _wait_logs(daemon, container: str, needle: bytes, timeout: float = 10) -> bytes:
    deadline = time.monotonic() + timeout
    while True:
        logs = daemon.cli("logs", container)
        if needle in logs.stdout:
            return logs.stdout
        if time.monotonic() > deadline:
            raise AssertionError(f"{needle!r} not in the logs of {container}:\n"
                                 f"{logs.stdout.decode(errors='replace')}{logs.stderr.decode(errors='replace')}")
        time.sleep(0.1)


def test_it_works_logs_and_cp_into_htdocs(daemon, base_image, tmp_path):
    image = base_image("httpd")
    config = json.loads(daemon.cli("image", "inspect", image).stdout)[0]["Config"]
    assert config["Cmd"] == ["httpd-foreground"]
    assert config["WorkingDir"] == "/usr/local/apache2"
    assert config["StopSignal"] == "SIGWINCH"
    assert "80/tcp" in config["ExposedPorts"]

    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<h1>copied in</h1>\n")
    (site / "notes.txt").write_text("plain text\n")
    name = _unique("web")
    port = _free_port()
    try:
        daemon.cli("run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:80", image)
        page = _wait_http(daemon, name, f"http://127.0.0.1:{port}/")
        assert page == "<html><body><h1>It works!</h1></body></html>\n"
        _wait_logs(daemon, name, b'"GET / HTTP/1.1" 200')

        daemon.cli("cp", f"{site}/.", f"{name}:{HTDOCS}/")
        assert _http_get(f"http://127.0.0.1:{port}/") == "<h1>copied in</h1>\n"
        assert _http_get(f"http://127.0.0.1:{port}/notes.txt") == "plain text\n"

        # The configuration in its official place is the one httpd reads.
        check = daemon.cli("exec", name, "httpd", "-t")
        assert b"Syntax OK" in check.stdout + check.stderr
        where = daemon.cli("exec", name, "sh", "-c",
                           "httpd -t -D DUMP_RUN_CFG 2>/dev/null | grep -i ServerRoot")
        assert b'"/usr/local/apache2"' in where.stdout

        started = time.monotonic()
        daemon.cli("stop", name)
        assert time.monotonic() - started < 8
    finally:
        daemon.cli("rm", "-f", name, check=False)
