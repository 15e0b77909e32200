# SPDX-License-Identifier: Apache-2.0
"""The python stand-in (Debian's Python 3.11): `python`, `python3`, `pip` and `pip3` on
PATH, LANG and PYTHON_VERSION as the official image sets them, `python -m venv` with pip
inside, and the seed's flow: a build that runs `pip install flask` as root (no
--break-system-packages), then a Flask app answering on a published port."""

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
from flask import Flask

app = Flask(__name__)


@app.route("/")
def index():
    return "hello from flask"


if __name__ == "__main__":
    app.run(host="0.0.0.0", port=5000)
"""


def _unique(kind: str) -> str:
    return f"test-python-{kind}-{uuid.uuid4().hex[:10]}"


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


def test_commands_environment_and_venv(daemon, base_image):
    image = base_image("python")
    config = json.loads(daemon.cli("image", "inspect", image).stdout)[0]["Config"]
    assert config["Cmd"] == ["python3"]
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["LANG"] == "C.UTF-8"
    assert env["PATH"].split(":")[0] == "/usr/local/bin"

    script = (
        "set -e\n"
        "for c in python python3 pip pip3; do command -v $c; done\n"
        "python -c 'import platform; print(platform.python_version())'\n"
        "pip --version\n"
        "python -m venv /tmp/venv\n"
        "/tmp/venv/bin/python -c 'import sys; print(sys.prefix)'\n"
        "/tmp/venv/bin/pip --version\n"
        "python -c 'print(\"h\\u00e9llo\")'\n"
    )
    lines = _out(daemon.cli("run", "--rm", image, "sh", "-c", script)).splitlines()
    assert lines[:4] == ["/usr/local/bin/python", "/usr/local/bin/python3",
                         "/usr/local/bin/pip", "/usr/local/bin/pip3"]
    assert lines[4] == env["PYTHON_VERSION"] and lines[4].startswith("3.")
    assert lines[5].startswith("pip ")
    assert lines[6] == "/tmp/venv"
    assert lines[7].startswith("pip ") and "/tmp/venv/" in lines[7]
    assert lines[8] == "h\u00e9llo"

    # The default command is the interpreter: it runs a script from stdin.
    result = daemon.cli("run", "--rm", "-i", image, input=b"print(6 * 7)\n")
    assert _out(result) == "42"


def test_pip_install_flask_in_a_build_then_serve(daemon, base_image, tmp_path):
    image = base_image("python")
    tag = f"{_unique('app')}:test"
    name = _unique("flask")
    (tmp_path / "app.py").write_text(APP)
    (tmp_path / "Dockerfile").write_text(
        f"FROM {image}\n"
        "WORKDIR /app\n"
        # As root, without --break-system-packages, as with the official image.
        "RUN pip install flask\n"
        # A venv of its own, with its own pip.
        "RUN python -m venv /venv && /venv/bin/pip install itsdangerous "
        "&& /venv/bin/python -c 'import itsdangerous'\n"
        "COPY app.py .\n"
        "EXPOSE 5000\n"
        'CMD ["python", "app.py"]\n')
    port = _free_port()
    try:
        daemon.cli("build", "-t", tag, str(tmp_path), timeout=BUILD_TIMEOUT)
        daemon.cli("run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:5000", tag)
        assert _wait_http(daemon, name, f"http://127.0.0.1:{port}/") == "hello from flask"
        where = daemon.cli("exec", name, "python", "-c", "import flask; print(flask.__file__)")
        assert _out(where).startswith("/usr/local/lib/python3")
    finally:
        daemon.cli("rm", "-f", name, check=False)
        daemon.cli("rmi", "-f", tag, check=False)
