# SPDX-License-Identifier: Apache-2.0
"""The node stand-in (Debian's Node.js 18 with npm and yarn): `node -e`, the entrypoint
handing options and script names to node while other commands run as given, and an app
built with `COPY . /app` + `npm install` of a small package, serving HTTP on a published
port."""

from __future__ import annotations

import json
import socket
import time
import urllib.request
import uuid

import pytest

pytestmark = pytest.mark.requires_root

BUILD_TIMEOUT = 600

APP = """\
const http = require('http');
const isNumber = require('is-number');
http.createServer((req, res) => {
  res.end(`hello from node, isNumber(5)=${isNumber(5)}`);
}).listen(3000, () => console.log('listening on 3000'));
"""
PACKAGE = {"name": "app", "version": "1.0.0", "private": True, "dependencies": {"is-number": "^7.0.0"}}


def _unique(kind: str) -> str:
    return f"test-node-{kind}-{uuid.uuid4().hex[:10]}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _http_get(url: str, timeout: float = 3) -> str:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=timeout) as response:
        return response.read().decode()


def _wait_http(daemon, container: str, url: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return _http_get(url)
        except OSError:
            if time.monotonic() > deadline:
                logs = daemon.cli("logs", container, check=False)
                raise AssertionError(f"{url} did not answer:\n{logs.stdout.decode(errors='replace')}"
                                     f"{logs.stderr.decode(errors='replace')}") from None
            time.sleep(0.2)


def _out(result) -> str:
    return result.stdout.decode().strip()


def test_node_npm_and_the_entrypoint(daemon, base_image):
    image = base_image("node")
    config = json.loads(daemon.cli("image", "inspect", image).stdout)[0]["Config"]
    assert config["Entrypoint"] == ["docker-entrypoint.sh"]
    assert config["Cmd"] == ["node"]
    env = dict(item.split("=", 1) for item in config["Env"])

    # An option as the first argument goes to node.
    assert _out(daemon.cli("run", "--rm", image, "-e", "console.log(1 + 1)")) == "2"
    assert _out(daemon.cli("run", "--rm", image, "--version")) == f"v{env['NODE_VERSION']}"
    # So does node itself, and any other command runs as given.
    assert _out(daemon.cli("run", "--rm", image, "node", "-p", "'ok'")) == "ok"
    assert _out(daemon.cli("run", "--rm", image, "echo", "plain", "command")) == "plain command"
    # The default command (node) reads a program from stdin.
    assert _out(daemon.cli("run", "--rm", "-i", image, input=b"console.log(6 * 7)\n")) == "42"

    script = "set -e; npm --version; npx --version; yarn --version; id -u node; id -g node"
    lines = _out(daemon.cli("run", "--rm", image, "sh", "-c", script)).splitlines()
    assert all(line[:1].isdigit() for line in lines[:3]), lines
    assert lines[3:] == ["1000", "1000"]


def test_app_with_npm_install_serves_http(daemon, base_image, tmp_path):
    image = base_image("node")
    tag = f"{_unique('app')}:test"
    name = _unique("web")
    (tmp_path / "app.js").write_text(APP)
    (tmp_path / "hello.js").write_text("console.log('hello', process.argv.slice(2).join(' '));\n")
    (tmp_path / "package.json").write_text(json.dumps(PACKAGE))
    (tmp_path / "Dockerfile").write_text(
        f"FROM {image}\n"
        "COPY . /app\n"
        "WORKDIR /app\n"
        "RUN npm install\n"
        "EXPOSE 3000\n"
        'CMD ["node", "app.js"]\n')
    port = _free_port()
    try:
        daemon.cli("build", "-t", tag, str(tmp_path), timeout=BUILD_TIMEOUT)
        # A script name (not a command) as the first argument runs under node.
        assert _out(daemon.cli("run", "--rm", tag, "hello.js", "a", "b")) == "hello a b"
        daemon.cli("run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:3000", tag)
        body = _wait_http(daemon, name, f"http://127.0.0.1:{port}/")
        assert body == "hello from node, isNumber(5)=true"
        assert b"listening on 3000" in daemon.cli("logs", name).stdout
    finally:
        daemon.cli("rm", "-f", name, check=False)
        daemon.cli("rmi", "-f", tag, check=False)
