# SPDX-License-Identifier: Apache-2.0
"""ADD of a URL with --checksum, COPY --chown by name and --exclude, and the build's
file outputs (`-o type=local` and `type=tar`)."""

import hashlib
import io
import tarfile
from http.server import BaseHTTPRequestHandler

import pytest

from tests.integration.builder.helpers import container_ids, write_context
from tests.support.containers import http_server

pytestmark = pytest.mark.requires_root

PAYLOAD = b"downloaded payload\n"


@pytest.fixture
def served():
    """A URL on 127.0.0.1 serving PAYLOAD (the daemon fetches it from this host)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.send_header("Last-Modified", "Wed, 21 Oct 2015 07:28:00 GMT")
            self.end_headers()
            self.wfile.write(PAYLOAD)

        def log_message(self, *args):
            pass

    with http_server(Handler) as url:
        yield url + "/files/payload.txt"


def test_add_url_with_checksum(daemon, tmp_path, served):
    good = hashlib.sha256(PAYLOAD).hexdigest()
    ctx = write_context(tmp_path, {"Dockerfile": f"FROM busybox\nADD --checksum=sha256:{good} {served} /dl/\n"})
    daemon.cli("build", "-t", "bt-add-url", str(ctx))
    shown = daemon.cli("run", "--rm", "bt-add-url", "stat", "-c", "%n %a %s %Y", "/dl/payload.txt").stdout.decode()
    assert shown == f"/dl/payload.txt 600 {len(PAYLOAD)} 1445412480\n"  # mode and mtime as Docker sets them
    assert daemon.cli("run", "--rm", "bt-add-url", "cat", "/dl/payload.txt").stdout == PAYLOAD

    bad = "0" * 64
    (ctx / "Dockerfile").write_text(f"FROM busybox\nRUN true\nADD --checksum=sha256:{bad} {served} /dl/\n")
    result = daemon.cli("build", str(ctx), check=False)
    assert result.returncode == 1
    assert result.stderr.decode().strip() == (
        f"line 3: digest mismatch for {served}: expected sha256:{bad}, got sha256:{good}")


def test_copy_chown_by_name_and_exclude(daemon, tmp_path):
    ctx = write_context(tmp_path, {"Dockerfile": """FROM busybox
RUN echo 'app:x:1234:2345::/home/app:/bin/sh' >> /etc/passwd && echo 'appg:x:2345:' >> /etc/group && echo 'other:x:3456:' >> /etc/group
COPY --chown=app:other f /f1
COPY --chown=app:appg d /d/
COPY --chown=1234:3456 f /new/deep/f2
COPY --exclude=*.log --exclude=**/*.tmp --exclude=cache src/ /app/
""", "f": "f\n", "d/sub/x": "x\n", "src/a.py": "a\n", "src/b.log": "b\n", "src/keep/c.txt": "c\n",
        "src/keep/d.log": "d\n", "src/keep/e.tmp": "e\n", "src/cache/big": "big\n"})
    daemon.cli("build", "-t", "bt-chown", str(ctx))
    shown = daemon.cli("run", "--rm", "bt-chown", "sh", "-c",
                       "stat -c '%n %u:%g' /f1 /d /d/sub /d/sub/x /new /new/deep /new/deep/f2; "
                       "cd /app && find . | sort").stdout.decode()
    # The destination directories a COPY makes belong to the --chown owner too (as Docker
    # 20.10 gives them for this Dockerfile).
    assert shown.splitlines() == [
        "/f1 1234:3456", "/d 1234:2345", "/d/sub 1234:2345", "/d/sub/x 1234:2345",
        "/new 1234:3456", "/new/deep 1234:3456", "/new/deep/f2 1234:3456",
        ".", "./a.py", "./keep", "./keep/c.txt", "./keep/d.log"]
    (ctx / "Dockerfile").write_text("FROM busybox\nCOPY --chown=nosuchuser f /f\n")
    result = daemon.cli("build", str(ctx), check=False)
    assert result.returncode == 1 and "unable to find user nosuchuser" in result.stderr.decode()


def test_local_and_tar_outputs(daemon, tmp_path):
    ctx = write_context(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nRUN mkdir -p /out && echo hello > /out/hello.txt\n"})
    dest = tmp_path / "local"
    daemon.cli("build", "-o", f"type=local,dest={dest}", str(ctx))
    assert (dest / "out" / "hello.txt").read_text() == "hello\n" and (dest / "bin" / "busybox").exists()

    archive = tmp_path / "out.tar"
    daemon.cli("build", "-o", f"type=tar,dest={archive}", str(ctx))
    with tarfile.open(archive) as tf:
        assert tf.extractfile("out/hello.txt").read() == b"hello\n"

    # To stdout: the tar owns it, the progress goes to stderr.
    result = daemon.cli("build", "-o", "-", str(ctx))
    with tarfile.open(fileobj=io.BytesIO(result.stdout)) as tf:
        assert tf.extractfile("out/hello.txt").read() == b"hello\n"
    assert "Successfully built" in result.stderr.decode()

    before = container_ids(daemon)
    result = daemon.cli("build", "-o", "type=oci,dest=x.tar", str(ctx), check=False)
    assert result.returncode == 1 and "unsupported output type 'oci'" in result.stderr.decode()
    assert result.stdout == b""  # refused before anything was built
    assert container_ids(daemon) == before  # no export container left
