# SPDX-License-Identifier: Apache-2.0
"""The httpd stand-in (Debian's Apache in the official /usr/local/apache2 layout): "It
works!" on a published port, requests in `logs`, `cp` into htdocs of a running container
changing what is served, and the configuration test of conf/httpd.conf."""

from __future__ import annotations

import pytest

from tests.support import containers

pytestmark = pytest.mark.requires_root

HTDOCS = "/usr/local/apache2/htdocs"


def test_it_works_logs_and_cp_into_htdocs(daemon, base_image, tmp_path):
    image = base_image("httpd")
    config = containers.image_config(daemon, image)
    assert config["Cmd"] == ["httpd-foreground"]
    assert config["WorkingDir"] == "/usr/local/apache2"
    assert config["StopSignal"] == "SIGWINCH"
    assert "80/tcp" in config["ExposedPorts"]

    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<h1>copied in</h1>\n")
    (site / "notes.txt").write_text("plain text\n")
    with containers.serving(daemon, 80, image, prefix="test-httpd-web") as (name, url):
        page = containers.wait_http(daemon, name, f"{url}/")
        assert page == "<html><body><h1>It works!</h1></body></html>\n"
        containers.wait_logs(daemon, name, b'"GET / HTTP/1.1" 200')

        daemon.cli("cp", f"{site}/.", f"{name}:{HTDOCS}/")
        assert containers.http_get(f"{url}/") == "<h1>copied in</h1>\n"
        assert containers.http_get(f"{url}/notes.txt") == "plain text\n"

        # The configuration in its official place is the one httpd reads.
        check = daemon.cli("exec", name, "httpd", "-t")
        assert b"Syntax OK" in check.stdout + check.stderr
        where = daemon.cli("exec", name, "sh", "-c",
                           "httpd -t -D DUMP_RUN_CFG 2>/dev/null | grep -i ServerRoot")
        assert b'"/usr/local/apache2"' in where.stdout

        # SIGWINCH: a graceful stop, well before the kill timeout.
        containers.assert_quick_stop(daemon, name, 8, exit_code=None)
