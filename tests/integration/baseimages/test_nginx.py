# SPDX-License-Identifier: Apache-2.0
"""The nginx stand-in (Debian's nginx): the welcome page on a published port, requests in
`logs` (access log → stdout), a host directory bind-mounted over /usr/share/nginx/html
served instead, a configuration template rendered from the environment, and a quick
graceful stop (SIGQUIT)."""

from __future__ import annotations

import urllib.error

import pytest

from tests.support import containers

pytestmark = pytest.mark.requires_root

TEMPLATE = """\
server {
    listen ${NGINX_PORT};
    location / {
        return 200 "templated port=${NGINX_PORT} uri=$uri";
    }
}
"""


def test_welcome_page_logs_and_quick_stop(daemon, base_image):
    image = base_image("nginx")
    config = containers.image_config(daemon, image)
    assert config["Cmd"] == ["nginx", "-g", "daemon off;"]
    assert config["StopSignal"] == "SIGQUIT"
    assert "80/tcp" in config["ExposedPorts"]
    with containers.serving(daemon, 80, image, prefix="test-nginx-welcome") as (name, url):
        page = containers.wait_http(daemon, name, f"{url}/")
        assert "<title>Welcome to nginx!</title>" in page
        with pytest.raises(urllib.error.HTTPError) as missing:
            containers.http_get(f"{url}/no-such-page")
        assert missing.value.code == 404
        # The access log is the container's stdout.
        containers.wait_logs(daemon, name, b'"GET / HTTP/1.1" 200')
        containers.wait_logs(daemon, name, b'"GET /no-such-page HTTP/1.1" 404')
        # SIGQUIT: a graceful stop that does not wait for the kill timeout.
        containers.assert_quick_stop(daemon, name, 5)


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
    with containers.serving(daemon, 80, "-v", f"{html}:/usr/share/nginx/html:ro", image,
                 prefix="test-nginx-site") as (site, url):
        assert containers.wait_http(daemon, site, f"{url}/") == "<h1>my own site</h1>\n"
        assert containers.http_get(f"{url}/other.txt") == "another file\n"

    # /etc/nginx/templates/*.template → conf.d, ${VAR} from the environment, nginx's
    # own variables ($uri) left alone.
    with containers.serving(daemon, 8080, "-e", "NGINX_PORT=8080", "-v", f"{templates}:/etc/nginx/templates:ro",
                 image, prefix="test-nginx-template") as (templated, url):
        body = containers.wait_http(daemon, templated, f"{url}/x")
        assert body == "templated port=8080 uri=/x"
