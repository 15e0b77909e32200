# SPDX-License-Identifier: Apache-2.0
"""RUN --mount=type=cache|bind|tmpfs: what the step sees, what persists, what the image
keeps (no mount points)."""

import secrets

import pytest

from tests.integration.builder.helpers import write_context

pytestmark = pytest.mark.requires_root


def test_cache_mount_persists_across_builds(daemon, tmp_path):
    cache_id = "bt-" + secrets.token_hex(4)
    ctx = write_context(tmp_path, {"Dockerfile": f"""FROM busybox
ARG N
RUN --mount=type=cache,id={cache_id},target=/var/cache/app echo run-$N >> /var/cache/app/log && cp /var/cache/app/log /seen
RUN --mount=type=cache,id={cache_id},target=/other,ro test ! -w /other/log || ! touch /other/x
"""})
    daemon.cli("build", "--build-arg", "N=1", "-t", "bt-cache-mount:1", str(ctx))
    daemon.cli("build", "--build-arg", "N=2", "-t", "bt-cache-mount:2", str(ctx))
    shown = daemon.cli("run", "--rm", "bt-cache-mount:2", "sh", "-c",
                       "cat /seen; ls -d /var/cache /other 2>/dev/null; echo end").stdout
    assert shown == b"run-1\nrun-2\nend\n"  # the second build saw the first one's file
    assert daemon.cli("run", "--rm", "bt-cache-mount:1", "cat", "/seen").stdout == b"run-1\n"


def test_bind_mounts_from_a_stage_and_the_context_and_tmpfs(daemon, tmp_path):
    ctx = write_context(tmp_path, {"Dockerfile": """FROM busybox AS tools
RUN mkdir /out && echo tool-data > /out/t.txt
FROM busybox
RUN --mount=type=bind,from=tools,source=/out,target=/mnt/tools cat /mnt/tools/t.txt > /got-stage && ! touch /mnt/tools/new 2>/dev/null
RUN --mount=type=bind,source=data/in.txt,target=/in.txt cat /in.txt > /got-ctx
RUN --mount=type=bind,target=/src,rw echo scribble > /src/data/in.txt && cat /src/data/in.txt > /got-rw
RUN --mount=type=bind,source=data/in.txt,target=/in.txt cat /in.txt > /got-ctx-again
RUN --mount=type=tmpfs,target=/scratch grep -q ' /scratch tmpfs ' /proc/mounts && echo big > /scratch/f && echo tmpfs-ok > /got-tmpfs
""", "data/in.txt": "from-context\n"})
    daemon.cli("build", "-t", "bt-bind", str(ctx))
    shown = daemon.cli("run", "--rm", "bt-bind", "sh", "-c",
                       "cat /got-stage /got-ctx /got-rw /got-ctx-again /got-tmpfs; "
                       "ls -d /mnt/tools /in.txt /src /scratch 2>/dev/null; echo end").stdout.decode()
    # A rw bind is a throwaway copy: the context is the same for the next step.
    assert shown == "tool-data\nfrom-context\nscribble\nfrom-context\ntmpfs-ok\nend\n"
