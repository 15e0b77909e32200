# SPDX-License-Identifier: Apache-2.0
"""Multi-stage builds: stages that do not depend on each other run at the same time, and
the output still reads stage by stage."""

import time

import pytest

from tests.integration.builder.helpers import container_ids, write_context

pytestmark = pytest.mark.requires_root

DOCKERFILE = """FROM busybox AS a
RUN sleep 3 && echo from-a && echo a > /a
FROM busybox AS b
RUN echo from-b && sleep 3 && echo b > /b
FROM busybox
COPY --from=a /a /a
COPY --from=b /b /b
"""


def test_independent_stages_run_concurrently_and_print_in_order(daemon, tmp_path):
    ctx = write_context(tmp_path, {"Dockerfile": DOCKERFILE})
    started = time.monotonic()
    out = daemon.cli("build", "--no-cache", "-t", "bt-stages", str(ctx)).stdout.decode()
    elapsed = time.monotonic() - started
    # One after the other would take 6 s of sleep alone.
    assert elapsed < 5.5, f"{elapsed:.1f}s:\n{out}"
    # Stage b printed `from-b` while a was still asleep; it is shown after a's lines.
    order = [out.index(text) for text in ("Step 1/7 : FROM busybox AS a", "from-a", "Step 3/7 : FROM busybox AS b",
                                          "from-b", "Step 5/7 : FROM busybox", "Step 7/7")]
    assert order == sorted(order), out
    assert daemon.cli("run", "--rm", "bt-stages", "cat", "/a", "/b").stdout == b"a\nb\n"


def test_a_failing_stage_stops_the_others(daemon, tmp_path):
    ctx = write_context(tmp_path, {"Dockerfile": """FROM busybox AS slow
RUN echo slow-started && sleep 30
FROM busybox AS broken
RUN echo broken-output && exit 7
FROM busybox
COPY --from=slow /etc/passwd /a
COPY --from=broken /etc/passwd /b
"""})
    before = container_ids(daemon)
    started = time.monotonic()
    result = daemon.cli("build", "--no-cache", str(ctx), check=False)
    elapsed = time.monotonic() - started
    out = result.stdout.decode()
    assert result.returncode == 1 and "returned a non-zero code: 7" in result.stderr.decode()
    assert elapsed < 20, f"{elapsed:.1f}s: the slow stage was waited for"
    assert out.index("slow-started") < out.index("Step 3/7") < out.index("broken-output")
    assert "Step 5/7" not in out
    assert container_ids(daemon) == before  # the slow stage's container is gone
