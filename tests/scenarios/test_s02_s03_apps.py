# SPDX-License-Identifier: Apache-2.0
"""Scenario 2, a Flask app [seeds 000, 004], and scenario 3, a Node app [seed 004]:
write the app and the seed's Dockerfile, build, run detached, reach it."""

from __future__ import annotations

import textwrap

import pytest

from tests.scenarios.helpers import curl, free_port, unique, wait_for, wait_http

pytestmark = [pytest.mark.requires_root, pytest.mark.scenario, pytest.mark.timeout(1800)]

BUILD_TIMEOUT = 1200  # the first run also makes python:3.9-slim / node:alpine offline

FLASK_APP = """\
    from flask import Flask
    app = Flask(__name__)

    @app.route('/')
    def hello():
        return "Hello, Docker!"

    if __name__ == "__main__":
        app.run(host="0.0.0.0")
    """

# Seed 000, section 4.2, word for word.
FLASK_DOCKERFILE = """\
    # Dockerfile
    FROM python:3.9-slim
    WORKDIR /app
    COPY requirements.txt .
    RUN pip install -r requirements.txt
    COPY . .
    CMD ["python", "app.py"]
    """


def test_flask_app(client, made, tmp_path):
    app = tmp_path / "flask-app"
    app.mkdir()
    (app / "app.py").write_text(textwrap.dedent(FLASK_APP))
    # Seed 000 makes requirements.txt with `pip freeze`; flask is what it holds.
    (app / "requirements.txt").write_text("flask\n")
    (app / "Dockerfile").write_text(textwrap.dedent(FLASK_DOCKERFILE))

    image = made.image(unique("my-python-app"))
    build = client("build", "-t", image, ".", cwd=app, timeout=BUILD_TIMEOUT)
    # pip reached the package index from inside the build.
    assert "Successfully installed" in build.both and "flask" in build.both.lower(), build.both
    assert f"Successfully tagged {image}:latest" in build.both

    port = free_port()
    name = made.container(unique("flask"))
    cid = client.out("run", "-d", "--name", name, "-p", f"{port}:5000", image).strip()
    assert len(cid) == 64
    wait_http(f"http://127.0.0.1:{port}/", "Hello, Docker!", timeout=60)
    assert curl(f"http://localhost:{port}") == "Hello, Docker!"
    # The app's own log line shows the request.
    wait_for(lambda: '"GET / HTTP/1.1" 200' in client("logs", name).both, 20, what="flask access log")
    assert client.inspect(name)["Config"]["Cmd"] == ["python", "app.py"]
    assert client.inspect(name)["Config"]["WorkingDir"] == "/app"


NODE_APP = """\
    const http = require('http');
    console.log('my-node-app starting on ' + process.version);
    http.createServer((req, res) => {
      res.end('Hello from Node.js in ' + process.cwd() + '\\n');
    }).listen(3000, () => console.log('listening on 3000'));
    """

# Seed 004, word for word.
NODE_DOCKERFILE = """\
    # 베이스 이미지로 경량 Node.js 선택
    FROM node:alpine

    # 애플리케이션 파일 복사
    COPY . /app

    # 작업 디렉토리 설정
    WORKDIR /app

    # 애플리케이션 실행
    CMD ["node", "app.js"]
    """


def test_node_app(client, made, tmp_path):
    app = tmp_path / "node-app"
    app.mkdir()
    (app / "app.js").write_text(textwrap.dedent(NODE_APP))
    (app / "Dockerfile").write_text(textwrap.dedent(NODE_DOCKERFILE))

    image = made.image(unique("my-node-app"))
    client("build", "-t", image, ".", cwd=app, timeout=BUILD_TIMEOUT)
    assert image in client.out("images", image)

    name = made.container(unique("my-node-container"))
    client("run", "-d", "--name", name, image)
    assert name in client.out("ps", "--filter", f"name={name}")
    logs = wait_for(lambda: (lambda text: text if "listening on 3000" in text else None)(client("logs", name).both),
                    60, what="node app log")
    assert "my-node-app starting on v" in logs
    info = client.inspect(name)
    assert info["State"]["Running"] is True
    assert info["Config"]["Cmd"] == ["node", "app.js"] and info["Config"]["WorkingDir"] == "/app"
    # The server answers on the container's address on the daemon's bridge.
    ip = info["NetworkSettings"]["IPAddress"]
    assert wait_http(f"http://{ip}:3000/", timeout=30).strip() == "Hello from Node.js in /app"
