# SPDX-License-Identifier: Apache-2.0
"""The node stand-in (Debian's Node.js 18 with npm and yarn): `node -e`, the entrypoint
handing options and script names to node while other commands run as given, and an app
built with `COPY . /app` + `npm install` of a small package, serving HTTP on a published
port."""

from __future__ import annotations

import json

import pytest

from tests.support import containers

pytestmark = pytest.mark.requires_root

APP = """\
const http = require('http');
const isNumber = require('is-number');
http.createServer((req, res) => {
  res.end(`hello from node, isNumber(5)=${isNumber(5)}`);
}).listen(3000, () => console.log('listening on 3000'));
"""
DOCKERFILE = """\
FROM {image}
COPY . /app
WORKDIR /app
RUN npm install
EXPOSE 3000
CMD ["node", "app.js"]
"""
PACKAGE = {"name": "app", "version": "1.0.0", "private": True, "dependencies": {"is-number": "^7.0.0"}}


def test_node_npm_and_the_entrypoint(daemon, base_image):
    image = base_image("node")
    config = containers.image_config(daemon, image)
    assert config["Entrypoint"] == ["docker-entrypoint.sh"]
    assert config["Cmd"] == ["node"]
    env = dict(item.split("=", 1) for item in config["Env"])

    # An option as the first argument goes to node.
    assert containers.run_once(daemon, image, "-e", "console.log(1 + 1)") == "2"
    assert containers.run_once(daemon, image, "--version") == f"v{env['NODE_VERSION']}"
    # So does node itself, and any other command runs as given.
    assert containers.run_once(daemon, image, "node", "-p", "'ok'") == "ok"
    assert containers.run_once(daemon, image, "echo", "plain", "command") == "plain command"
    # The default command (node) reads a program from stdin.
    assert containers.run_once(daemon, "-i", image, input=b"console.log(6 * 7)\n") == "42"

    script = "set -e; npm --version; npx --version; yarn --version; id -u node; id -g node"
    lines = containers.run_once(daemon, image, "sh", "-c", script).splitlines()
    assert all(line[:1].isdigit() for line in lines[:3]), lines
    assert lines[3:] == ["1000", "1000"]


def test_app_with_npm_install_serves_http(daemon, base_image, tmp_path):
    image = base_image("node")
    (tmp_path / "app.js").write_text(APP)
    (tmp_path / "hello.js").write_text("console.log('hello', process.argv.slice(2).join(' '));\n")
    (tmp_path / "package.json").write_text(json.dumps(PACKAGE))
    with containers.built(daemon, tmp_path, DOCKERFILE.format(image=image), "test-node-app") as tag:
        # A script name (not a command) as the first argument runs under node.
        assert containers.run_once(daemon, tag, "hello.js", "a", "b") == "hello a b"
        with containers.serving(daemon, 3000, tag, prefix="test-node-web") as (name, url):
            body = containers.wait_http(daemon, name, f"{url}/")
            assert body == "hello from node, isNumber(5)=true"
            assert "listening on 3000" in containers.logs(daemon, name)
