# SPDX-License-Identifier: Apache-2.0
"""`compose run` one-off containers (listed by `ps -a`, gone after `--rm` even when the
start fails) and `compose images` once an image name has moved to another image."""

import json
import socket


def test_one_off_containers_and_moved_image_names(project, daemon):
    project.write("compose.yaml", """
        services:
          app:
            image: cpi-app
            command: sleep 60
    """)
    daemon.cli("pull", "busybox")
    daemon.cli("tag", "busybox", "cpi-app")
    try:
        project.compose("up", "-d")
        oneoff = project.compose("run", "-d", "--name", "cpi-oneoff", "app", "sleep", "60").stdout.decode().strip()
        assert oneoff == "cpi-oneoff"
        assert "cpi-oneoff" not in project.compose("ps").stdout.decode()
        assert "cpi-oneoff" in project.compose("ps", "-a").stdout.decode()

        # The image name moves on (a rebuild or a pull): the container's image keeps its tags.
        daemon.cli("tag", "busybox", "cpi-other")
        daemon.cli("rmi", "cpi-app")
        rows = json.loads(project.compose("images", "--format", "json").stdout)
        assert rows and all(not r["Repository"].startswith("sha256") for r in rows)

        # run --rm -d whose start fails (its published port is taken) leaves no container.
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            port = taken.getsockname()[1]
            taken.listen()
            before = daemon.cli("ps", "-aq").stdout
            result = project.compose("run", "--rm", "-d", "-p", f"127.0.0.1:{port}:80", "app", check=False)
            assert result.returncode != 0
            assert daemon.cli("ps", "-aq").stdout == before
    finally:
        project.compose("down", check=False)
        daemon.cli("rmi", "cpi-app", "cpi-other", check=False)
