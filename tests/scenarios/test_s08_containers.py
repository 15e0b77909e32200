# SPDX-License-Identifier: Apache-2.0
"""Scenario 8, container commands [seeds 001, 002]: run (-d, -it, --rm, --name, -e, -p),
ps / ps -a, stop, start, restart, rm, exec -it … /bin/bash, logs (-f), inspect,
pause / unpause, command overrides (`container run --name x image cowsay boo`) and
`run image env`."""

from __future__ import annotations

import re
import textwrap
import time
import urllib.error

import pytest

from tests.scenarios.helpers import (
    free_port,
    http_get,
    read_until,
    stop_stream,
    unique,
    wait_for,
    wait_http,
)
from tests.support.ptyrun import run_on_pty

pytestmark = [pytest.mark.requires_root, pytest.mark.scenario, pytest.mark.timeout(1800)]


def test_container_lifecycle(client, made):
    # `docker run -d -p 8080:80 nginx` (seed 000), with a name and an environment variable.
    port = free_port()
    name = made.container(unique("my-container"))
    cid = client.out("run", "-d", "--name", name, "-e", "GREETING=annyeong", "-p", f"{port}:80", "nginx",
                     timeout=1500).strip()
    url = f"http://127.0.0.1:{port}/"
    assert "Welcome to nginx!" in wait_http(url, "Welcome to nginx!", timeout=60)

    ps = client.out("ps", "--filter", f"name={name}").splitlines()
    assert ps[0].split()[:2] == ["CONTAINER", "ID"] and len(ps) == 2, ps
    assert ps[1].startswith(cid[:12]) and ps[1].rstrip().endswith(name) and " Up " in ps[1], ps
    assert f"0.0.0.0:{port}->80/tcp" in ps[1], ps

    info = client.inspect(name)
    assert info["Id"] == cid and info["Name"] == f"/{name}" and info["State"]["Running"] is True
    assert "GREETING=annyeong" in info["Config"]["Env"]
    assert info["HostConfig"]["PortBindings"] == {"80/tcp": [{"HostIp": "", "HostPort": str(port)}]}
    assert client.out("inspect", "-f", "{{.Config.Image}} {{.State.Status}}", name).strip() == "nginx running"
    assert "GREETING=annyeong" in client.out("exec", name, "env").splitlines()

    # logs, and logs -f following new lines as they come.
    wait_for(lambda: '"GET / HTTP/1.1" 200' in client("logs", name).both, 20, what="nginx access log")
    follow = client.popen("logs", "-f", "--tail", "0", name)
    made.processes.append(follow)
    time.sleep(0.5)
    with pytest.raises(urllib.error.HTTPError):
        http_get(f"{url}follow-marker-{port}")
    read_until(follow, f"GET /follow-marker-{port} HTTP/1.1", timeout=20)
    stop_stream(follow)

    # exec -it … /bin/bash: an interactive shell on a terminal inside the container.
    status, screen = run_on_pty(client.pty_argv("exec", "-it", name, "/bin/bash"),
                                [(1.0, b"echo inside-$((6*7))-$(hostname)\r"), (0.5, b"tty\r"), (0.5, b"exit\r")],
                                timeout=30)
    text = screen.decode(errors="replace")
    assert status == 0, text
    assert f"inside-42-{cid[:12]}" in text, text
    assert re.search(r"/dev/pts/\d+", text), text
    assert "root@" in text  # bash's prompt on a terminal

    # pause / unpause
    client("pause", name)
    assert client.inspect(name)["State"]["Status"] == "paused"
    assert "(Paused)" in client.out("ps", "--filter", f"name={name}")
    with pytest.raises(OSError):
        http_get(url, timeout=1.5)
    client("unpause", name)
    assert client.inspect(name)["State"]["Status"] == "running"
    assert "Welcome to nginx!" in wait_http(url, timeout=20)

    # stop / ps -a / start / restart
    client("stop", name)
    assert name not in client.out("ps", "--format", "{{.Names}}").split()
    listed = client.out("ps", "-a", "--filter", f"name={name}", "--format", "{{.Names}} {{.Status}}")
    assert re.match(rf"{name} Exited \(0\) ", listed), listed
    client("start", name)
    assert "Welcome to nginx!" in wait_http(url, timeout=20)
    started = client.inspect(name)["State"]["StartedAt"]
    client("restart", name)
    assert client.inspect(name)["State"]["StartedAt"] != started
    assert client.inspect(name)["State"]["Running"] is True
    assert "Welcome to nginx!" in wait_http(url, timeout=20)

    # rm: refused while running (without -f), fine once stopped.
    refused = client("rm", name, check=False)
    assert refused.rc != 0 and "stop the container before" in refused.err, refused
    client("stop", name)
    assert client.out("rm", name).strip() == name
    assert client("inspect", name, check=False).rc != 0
    assert name not in client.out("ps", "-a", "--format", "{{.Names}}").split()


def test_run_rm_and_interactive(client, made):
    # --rm: the container is gone once it exits.
    name = unique("once")
    assert client.out("run", "--rm", "--name", name, "busybox", "echo", "hello once") == "hello once\n"
    assert client("inspect", name, check=False).rc != 0
    # -it --rm (seed 002's `container run -it --rm …`): a shell on a terminal.
    status, screen = run_on_pty(client.pty_argv("container", "run", "-it", "--rm", "--name", name, "busybox", "sh"),
                                [(1.0, b"echo sum=$((40+2)); tty\r"), (0.5, b"exit 3\r")], timeout=30)
    text = screen.decode(errors="replace")
    assert "sum=42" in text and re.search(r"/dev/pts/\d+", text), text
    assert status == 3, text
    assert client("inspect", name, check=False).rc != 0
    # -i without a terminal: stdin is passed through.
    assert client.out("run", "-i", "--rm", "busybox", "tr", "a-z", "A-Z", input="piped in\n") == "PIPED IN\n"


# A stand-in for seed 002's docker/whalesay (not made offline): a cowsay in busybox.
WHALESAY = """\
    FROM busybox
    ENV COW_EYES=oo
    COPY cowsay /usr/local/bin/cowsay
    RUN chmod 755 /usr/local/bin/cowsay
    CMD ["cowsay", "hello from whalesay"]
    """
COWSAY = r"""#!/bin/sh
text="$*"
bar=$(printf '%s' "$text" | sed 's/./-/g')
echo " -$bar-"
echo "< $text >"
echo " -$bar-"
echo "        \   ^__^"
echo "         \  ($COW_EYES)\_______"
echo "            (__)\       )\/\\"
echo "                ||----w |"
echo "                ||     ||"
"""


def test_command_override_and_env(client, made, tmp_path):
    context = tmp_path / "whalesay"
    context.mkdir()
    (context / "Dockerfile").write_text(textwrap.dedent(WHALESAY))
    (context / "cowsay").write_text(COWSAY)
    image = made.image(f"{unique('whalesay')}:latest")
    client("build", "-t", image, ".", cwd=context)
    assert image.split(":")[0] in client.out("image", "ls")

    # The image's CMD by default…
    default = made.container(unique("cow-default"))
    assert "< hello from whalesay >" in client.out("container", "run", "--name", default, image)
    # …and `container run --name x image cowsay boo` replaces it.
    boo = made.container(unique("cow-boo"))
    out = client.out("container", "run", "--name", boo, image, "cowsay", "boo")
    assert out.splitlines()[:3] == [" -----", "< boo >", " -----"], out
    assert "(oo)" in out
    assert client.inspect(boo)["Config"]["Cmd"] == ["cowsay", "boo"]
    listed = client.out("container", "ps", "-a", "--format", "{{.Names}}\t{{.Status}}")
    assert re.search(rf"^{boo}\tExited \(0\)", listed, re.M), listed
    assert boo not in client.out("container", "ps", "--format", "{{.Names}}").split()

    # `run image env`: the image's environment, plus -e and the container's hostname.
    env = client.out("run", "--rm", "-e", "github_username=Hyeonseung0103", image, "env").splitlines()
    assert "COW_EYES=oo" in env and "github_username=Hyeonseung0103" in env
    assert any(line.startswith("PATH=/usr/local/sbin:") for line in env), env
    assert any(line.startswith("HOSTNAME=") for line in env), env

    client("container", "rm", default, boo)
    assert client("container", "inspect", boo, check=False).rc != 0
    client("image", "rm", image)
    assert client("image", "inspect", image, check=False).rc != 0
