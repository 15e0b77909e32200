# SPDX-License-Identifier: Apache-2.0
"""Scenario 9, copying in and out [seeds 002, 003]: `cp ./ c:/usr/local/apache2/htdocs/`
into a running httpd, `cp c:path ./` out, `cp index.html my-nginx:/usr/share/nginx/html/
index.html` changing the page on the published port. Scenario 10, commit [seed 002]:
`container commit c name:version`, then run the new image (and the seed's other way to
the same image: a Dockerfile FROM httpd:2.4 copying the site in)."""

from __future__ import annotations

import textwrap
import urllib.request

import pytest

from tests.scenarios.helpers import free_port, unique, wait_for, wait_http

pytestmark = [pytest.mark.requires_root, pytest.mark.scenario, pytest.mark.timeout(1800)]

GHOST = bytes(range(256)) * 8  # binary content must survive both directions


def make_site(directory):
    """A stand-in for the seed's cloned pacman-canvas checkout."""
    directory.mkdir()
    (directory / "index.html").write_text("<html><title>pacman-canvas</title><script src=pacman.js></script></html>\n")
    (directory / "pacman.js").write_text("var game = 'pacman';\n")
    (directory / "img").mkdir()
    (directory / "img" / "ghost.png").write_bytes(GHOST)
    return directory


def fetch_bytes(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read()


def test_copy_in_and_out(client, made, tmp_path):
    # `docker container run --name 컨테이너_이름 --rm -p 818:80 httpd` (detached here).
    site = make_site(tmp_path / "pacman-canvas")
    port = free_port()
    name = made.container(unique("part1_2"))
    client("container", "run", "--name", name, "--rm", "-d", "-p", f"{port}:80", "httpd", timeout=1500)
    assert "It works!" in wait_http(f"http://127.0.0.1:{port}/", "It works!", timeout=60)

    # `docker container cp ./ 컨테이너_이름:/usr/local/apache2/htdocs/`: the directory's contents.
    client("container", "cp", "./", f"{name}:/usr/local/apache2/htdocs/", cwd=site)
    assert "pacman-canvas" in wait_http(f"http://127.0.0.1:{port}/", "pacman-canvas", timeout=10)
    assert fetch_bytes(f"http://127.0.0.1:{port}/img/ghost.png") == GHOST
    assert wait_http(f"http://127.0.0.1:{port}/pacman.js", timeout=5) == "var game = 'pacman';\n"

    # `docker cp 컨테이너_이름:usr/local/apache2/htdocs/ ./`: the directory, into the current one.
    out = tmp_path / "out"
    out.mkdir()
    client("cp", f"{name}:usr/local/apache2/htdocs/", "./", cwd=out)
    assert (out / "htdocs" / "index.html").read_text() == (site / "index.html").read_text()
    assert (out / "htdocs" / "img" / "ghost.png").read_bytes() == GHOST
    # One file out under a new name (seed 003: `docker cp mycontainer:/usr/src/app/myfile.txt ./myfile.txt`).
    client("cp", f"{name}:/usr/local/apache2/htdocs/pacman.js", "./game.js", cwd=out)
    assert (out / "game.js").read_text() == "var game = 'pacman';\n"

    # --rm: stopping removes it.
    client("stop", name)
    wait_for(lambda: client("inspect", name, check=False).rc != 0, 20, what="the --rm container to go away")


SEED_PAGE = """\
    <!DOCTYPE html>
    <html>
    <head>
    <title>Welcome to My Nginx!</title>
    </head>
    <body>
    <h1>Hello, Docker!</h1>
    <p>This is my custom Nginx homepage served from a Docker container.</p>
    </body>
    </html>
    """


def test_copy_changes_nginx_page(client, made, tmp_path):
    # Seed 003 "[실습] nginx 파일 복사해서 초기화면 바꿔주기".
    port = free_port()
    name = made.container(unique("my-nginx"))
    client("run", "--name", name, "-p", f"{port}:80", "-d", "nginx", timeout=1500)
    assert "<h1>Welcome to nginx!</h1>" in wait_http(f"http://127.0.0.1:{port}/", "Welcome to nginx!", timeout=60)
    (tmp_path / "index.html").write_text(textwrap.dedent(SEED_PAGE))
    client("cp", "index.html", f"{name}:/usr/share/nginx/html/index.html", cwd=tmp_path)
    page = wait_http(f"http://127.0.0.1:{port}/", "Hello, Docker!", timeout=10)
    assert page == textwrap.dedent(SEED_PAGE)
    assert "Welcome to nginx!" not in page


def test_commit_then_run(client, made, tmp_path):
    site = make_site(tmp_path / "pacman-canvas")
    port = free_port()
    name = made.container(unique("pacman-src"))
    client("run", "-d", "--name", name, "-p", f"{port}:80", "httpd", timeout=1500)
    wait_http(f"http://127.0.0.1:{port}/", "It works!", timeout=60)
    client("cp", "./", f"{name}:/usr/local/apache2/htdocs/", cwd=site)

    # `docker container commit 컨테이너_이름 이미지_이름:버전`
    repo = unique("my_pacman")
    image = made.image(f"{repo}:1.0")
    committed = client.out("container", "commit", name, image).strip()
    assert committed.startswith("sha256:") and len(committed) == 71
    assert client.out("images", "--format", "{{.Repository}}:{{.Tag}}", repo).split() == [image]
    history = client.out("history", "--no-trunc", "--format", "{{.CreatedBy}}", image)
    assert "httpd-foreground" in history  # committed on top of httpd's layers
    client("rm", "-f", name)

    # `docker run --name 또다른_컨테이너_이름 -p … 저장해놓은_이미지이름:버전`
    port2 = free_port()
    other = made.container(unique("pacman-from-commit"))
    client("run", "-d", "--name", other, "-p", f"{port2}:80", image)
    assert "pacman-canvas" in wait_http(f"http://127.0.0.1:{port2}/", "pacman-canvas", timeout=60)
    assert fetch_bytes(f"http://127.0.0.1:{port2}/img/ghost.png") == GHOST
    # The image keeps httpd's command and port.
    config = client.inspect(image, "image")["Config"]
    assert config["Cmd"] == ["httpd-foreground"] and "80/tcp" in config["ExposedPorts"]

    # The other way (seed 002): `FROM httpd:2.4` + `COPY ./ /usr/local/apache2/htdocs/`,
    # `docker build --tag my_pacman:2.0 .`, `docker run --name … -p 900:80 my_pacman:2.0`.
    (site / "Dockerfile").write_text("FROM httpd:2.4\nCOPY ./ /usr/local/apache2/htdocs/\n")
    built = made.image(f"{repo}:2.0")
    client("build", "--tag", built, ".", cwd=site, timeout=600)
    port3 = free_port()
    third = made.container(unique("pacman-built"))
    client("run", "--name", third, "-d", "-p", f"{port3}:80", built)
    assert "pacman-canvas" in wait_http(f"http://127.0.0.1:{port3}/", "pacman-canvas", timeout=60)
    assert fetch_bytes(f"http://127.0.0.1:{port3}/img/ghost.png") == GHOST
    assert sorted(client.out("images", "--format", "{{.Tag}}", repo).split()) == ["1.0", "2.0"]
