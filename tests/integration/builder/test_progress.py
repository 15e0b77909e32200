# SPDX-License-Identifier: Apache-2.0
"""`build --progress`: the live tty view on a real terminal, plain output elsewhere."""

import re

import pytest

from tests.integration.builder.helpers import write_context
from tests.support.daemon import BIN
from tests.support.ptyrun import run_on_pty

pytestmark = pytest.mark.requires_root

DOCKERFILE = """FROM busybox
COPY f /f
RUN for i in 1 2 3 4; do echo line-$i; sleep 0.4; done
RUN echo done
"""


def _on_pty(daemon, *args):
    code, out = run_on_pty([str(BIN / "dockyard"), "-H", daemon.host, "build", *args], [], timeout=90)
    return code, out.decode("utf-8", errors="replace")


def _final_frame(text: str) -> str:
    return re.split(r"\x1b\[\d+F", text)[-1]


def test_tty_view_on_a_terminal(daemon, tmp_path):
    ctx = write_context(tmp_path, {"Dockerfile": DOCKERFILE, "f": "x\n"})
    code, text = _on_pty(daemon, "--progress=tty", str(ctx))
    assert code == 0, text
    assert "Step 1/4" not in text and "Running in" not in text  # not the classic text
    assert text.count("[+] Building") >= 5 and "\x1b[K" in text  # redrawn in place
    assert re.search(r" \S \[3/4\] RUN for i in", text)  # the spinner on the step at work
    assert " => => # line-2" in text  # its live output
    final = _final_frame(text)
    assert re.search(r"\[\+\] Building \d+\.\ds \(4/4\)", final)
    assert re.search(r" => \[3/4\] RUN for i in 1 2 3 4; do echo line-\$i; sleep 0\.4; done +[1-9]\.\ds", final)
    assert "=> => #" not in final and re.search(r"Successfully built [0-9a-f]{12}\r?\n$", final)

    code, text = _on_pty(daemon, str(ctx))  # auto, on a terminal: the tty view
    final = _final_frame(text)
    assert code == 0 and "CACHED [2/4] COPY f /f" in final and "CACHED [4/4] RUN echo done" in final

    out = daemon.cli("build", "--progress=auto", str(ctx)).stdout.decode()  # auto, to a pipe
    assert "Step 3/4 : RUN for i in" in out and out.count(" ---> Using cache") == 3 and "\x1b[" not in out


def test_tty_view_of_a_failing_step(daemon, tmp_path):
    ctx = write_context(tmp_path, {"Dockerfile": "FROM busybox\nRUN echo last-words && exit 3\n"})
    code, text = _on_pty(daemon, "--progress=tty", str(ctx))
    final = _final_frame(text)
    assert code == 1
    assert " => ERROR [2/2] RUN echo last-words && exit 3" in final
    assert " > [2/2] RUN echo last-words && exit 3:" in final and "   last-words" in final
    assert "The command '/bin/sh -c echo last-words && exit 3' returned a non-zero code: 3" in final


def test_invalid_progress_value(daemon, tmp_path):
    result = daemon.cli("build", "--progress=fancy", str(tmp_path), check=False)
    assert result.returncode == 125
    assert 'invalid argument "fancy" for "--progress" flag' in result.stderr.decode()
