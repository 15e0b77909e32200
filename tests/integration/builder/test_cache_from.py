# SPDX-License-Identifier: Apache-2.0
"""`build --cache-from`: an image built elsewhere (here: saved, forgotten with its whole
cache, loaded again) satisfies the steps it recorded, as with Docker's classic builder."""

import pytest

from tests.integration.builder.helpers import write_context

pytestmark = pytest.mark.requires_root

DOCKERFILE = """FROM busybox
ENV A=1
RUN echo built > /b
COPY f /f
WORKDIR /app
RUN echo changes-nothing
CMD ["cat", "/b"]
"""


def test_cache_from_a_loaded_image(fresh_daemon, tmp_path):
    daemon = fresh_daemon
    ctx = write_context(tmp_path / "ctx", {"Dockerfile": DOCKERFILE, "f": "hello\n"})
    first = daemon.cli("build", "-q", "--label", "team=a", "-t", "cf:1", str(ctx)).stdout.decode().strip()
    archive = tmp_path / "cf.tar"
    daemon.cli("save", "-o", str(archive), "cf:1")
    daemon.cli("rmi", "cf:1")
    daemon.cli("builder", "prune", "-a", "-f")
    daemon.cli("load", "-i", str(archive))

    # No record of these steps is left: without --cache-from everything runs again.
    out = daemon.cli("build", "--label", "team=a", str(ctx)).stdout.decode()
    assert "Using cache" not in out and "Running in" in out

    # With it, every step comes from the loaded image (even though the build just made
    # local cache records: Docker uses those only when they belong to a source).
    out = daemon.cli("build", "--label", "team=a", "--cache-from", "cf:1", str(ctx)).stdout.decode()
    assert out.count(" ---> Using cache") == 6 and "Running in" not in out
    assert f"Successfully built {first.removeprefix('sha256:')[:12]}" in out
    assert daemon.cli("build", "-q", "--label", "team=a", "--cache-from", "cf:1", "--cache-from", "no-such:image",
                      str(ctx)).stdout.decode().strip() == first
    assert daemon.cli("run", "--rm", first).stdout == b"built\n"

    # A changed step: the steps before it still come from the source, it and the rest run.
    (ctx / "Dockerfile").write_text(DOCKERFILE.replace("echo changes-nothing", "echo changed"))
    out = daemon.cli("build", "--cache-from", "cf:1", str(ctx)).stdout.decode()
    assert out.count(" ---> Using cache") == 4 and out.count("Running in") == 1

    # --no-cache wins over --cache-from.
    out = daemon.cli("build", "--no-cache", "--cache-from", "cf:1", str(ctx)).stdout.decode()
    assert "Using cache" not in out
