# SPDX-License-Identifier: Apache-2.0
"""The python stand-in (Debian's Python 3.11): `python`, `python3`, `pip` and `pip3` on
PATH, LANG and PYTHON_VERSION as the official image sets them, `python -m venv` with pip
inside, and the seed's flow: a build that runs `pip install flask` as root (no
--break-system-packages), then a Flask app answering on a published port."""

from __future__ import annotations

import pytest

from tests.support import containers

pytestmark = pytest.mark.requires_root

APP = """\
from flask import Flask

app = Flask(__name__)


@app.route("/")
def index():
    return "hello from flask"


if __name__ == "__main__":
    app.run(host="0.0.0.0", port=5000)
"""
DOCKERFILE = """\
FROM {image}
WORKDIR /app
# As root, without --break-system-packages, as with the official image.
RUN pip install flask
# A venv of its own, with its own pip.
RUN python -m venv /venv && /venv/bin/pip install itsdangerous && /venv/bin/python -c 'import itsdangerous'
COPY app.py .
EXPOSE 5000
CMD ["python", "app.py"]
"""


def test_commands_environment_and_venv(daemon, base_image):
    image = base_image("python")
    config = containers.image_config(daemon, image)
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
    lines = containers.run_once(daemon, image, "sh", "-c", script).splitlines()
    assert lines[:4] == ["/usr/local/bin/python", "/usr/local/bin/python3",
                         "/usr/local/bin/pip", "/usr/local/bin/pip3"]
    assert lines[4] == env["PYTHON_VERSION"] and lines[4].startswith("3.")
    assert lines[5].startswith("pip ")
    assert lines[6] == "/tmp/venv"
    assert lines[7].startswith("pip ") and "/tmp/venv/" in lines[7]
    assert lines[8] == "h\u00e9llo"

    # The default command is the interpreter: it runs a script from stdin.
    assert containers.run_once(daemon, "-i", image, input=b"print(6 * 7)\n") == "42"


def test_pip_install_flask_in_a_build_then_serve(daemon, base_image, tmp_path):
    image = base_image("python")
    (tmp_path / "app.py").write_text(APP)
    with containers.built(daemon, tmp_path, DOCKERFILE.format(image=image), "test-python-app") as tag:
        with containers.serving(daemon, 5000, tag, prefix="test-python-flask") as (name, url):
            assert containers.wait_http(daemon, name, f"{url}/") == "hello from flask"
            where = daemon.cli("exec", name, "python", "-c", "import flask; print(flask.__file__)")
            assert containers.output(where).startswith("/usr/local/lib/python3")
