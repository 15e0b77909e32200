# SPDX-License-Identifier: Apache-2.0
"""The nginx stand-in (Debian's nginx): the welcome page on a published port, requests in
`logs` (access log → stdout), a host directory bind-mounted over /usr/share/nginx/html
served instead, a configuration template rendered from the environment, and a quick
graceful stop (SIGQUIT)."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
import uuid

import pytest

pytestmark = pytest.mark.requires_root

TEMPLATE = """\
server {
    listen ${NGINX_PORT};
    location / {
        return 200 "templated port=${NGINX_PORT} uri=$uri";
    }
}
"""


def _unique(kind: str) -> str:
    return f"test-nginx-{kind}-{uuid.uuid4().hex[:10]}"


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


def test_welcome_page_logs_and_quick_stop(daemon, base_image):
    image = base_image("nginx")
    config = json.loads(daemon.cli("image", "inspect", image).stdout)[0]["Config"]
    assert config["Cmd"] == ["nginx", "-g", "daemon off;"]
    assert config["StopSignal"] == "SIGQUIT"
    assert "80/tcp" in config["ExposedPorts"]
    name = _unique("welcome")
    port = _free_port()
    try:
        daemon.cli("run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:80", image)
        page = _wait_http(daemon, name, f"http://127.0.0.1:{port}/")
        assert "<title>Welcome to nginx!</title>" in page
        with pytest.raises(urllib.error.HTTPError) as missing:
            _http_get(f"http://127.0.0.1:{port}/no-such-page")
        assert missing.value.code == 404
        # The access log is the container's stdout.
        _wait_logs(daemon, name, b'"GET / HTTP/1.1" 200')
        _wait_logs(daemon, name, b'"GET /no-such-page HTTP/1.1" 404')
        # SIGQUIT: a graceful stop that does not wait for the kill timeout.
        started = time.monotonic()
        daemon.cli("stop", name)
        assert time.monotonic() - started < 5
        assert daemon.cli("inspect", "-f", "{{.State.ExitCode}}", name).stdout.strip() == b"0"
    finally:
        daemon.cli("rm", "-f", name, check=False)


def test_bind_mounted_html_and_a_template(daemon, base_image, tmp_path):
    image = base_image("nginx")
    html = tmp_path / "html"
    html.mkdir()
    (html / "index.html").write_text("<h1>my own site</h1>\n")
    (html / "other.txt").write_text("another file\n")
    html.chmod(0o755)
    for f in html.iterdir():
        f.chmod(0o644)
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "default.conf.template").write_text(TEMPLATE)
    templates.chmod(0o755)
    (templates / "default.conf.template").chmod(0o644)
    site, templated = _unique("site"), _unique("template")
    site_port, template_port = _free_port(), _free_port()
    try:
        daemon.cli("run", "-d", "--name", site, "-p", f"127.0.0.1:{site_port}:80",
                   "-v", f"{html}:/usr/share/nginx/html:ro", image)
        assert _wait_http(daemon, site, f"http://127.0.0.1:{site_port}/") == "<h1>my own site</h1>\n"
        assert _http_get(f"http://127.0.0.1:{site_port}/other.txt") == "another file\n"

        # /etc/nginx/templates/*.template → conf.d, ${VAR} from the environment, nginx's
        # own variables ($uri) left alone.
        daemon.cli("run", "-d", "--name", templated, "-e", "NGINX_PORT=8080",
                   "-p", f"127.0.0.1:{template_port}:8080",
                   "-v", f"{templates}:/etc/nginx/templates:ro", image)
        body = _wait_http(daemon, templated, f"http://127.0.0.1:{template_port}/x")
        assert body == "templated port=8080 uri=/x"
    finally:
        daemon.cli("rm", "-f", site, templated, check=False)
