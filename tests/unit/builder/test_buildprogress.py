# SPDX-License-Identifier: Apache-2.0
"""`build --progress`: the tty view drawn from the classic stream, and the choice of view."""

import io
import re
import time

from dockyard.cli.buildprogress import PlainView, TtyView, open_view

STREAM = [
    "Step 1/4 : FROM busybox\n", " ---> fae835494098\n",
    "Step 2/4 : COPY f /f\n", " ---> Using cache\n", " ---> 2b6eb600d1c9\n",
    "Step 3/4 : RUN make\n", " ---> Running in 55c455244638\n", "compiling a\ncompil", "ing b\n",
]


class Screen(io.StringIO):
    encoding = "utf-8"

    def isatty(self):
        return True


def _final_frame(text: str) -> str:
    """What is left on screen after the last redraw (everything after its cursor-up)."""
    return re.split(r"\x1b\[\d+F", text)[-1]


def test_steps_cache_marks_live_output_and_results():
    screen = Screen()
    view = TtyView(screen)
    for chunk in STREAM:
        view.write(chunk)
    time.sleep(0.35)  # a few redraws while step 3 runs
    live = screen.getvalue()
    assert live.count("[+] Building") >= 2
    assert " => => # compiling b" in live  # the running step's output, joined across chunks
    assert "Running in" not in live and "Step 3/4" not in live
    for chunk in [" ---> 1faa5ec639da\n", "Removing intermediate container 55c455244638\n",
                  "Step 4/4 : CMD [\"sh\"]\n", " ---> edda12edf3f2\n", "Successfully built edda12edf3f2\n",
                  "Successfully tagged app:latest\n"]:
        view.write(chunk)
    view.close()
    final = _final_frame(screen.getvalue())
    assert re.search(r"\[\+\] Building \d+\.\ds \(4/4\)", final)
    assert re.search(r" => \[1/4\] FROM busybox +\d+\.\ds", final)
    assert " => CACHED [2/4] COPY f /f" in final and " => [3/4] RUN make" in final
    assert "compiling" not in final  # a finished step keeps only its line
    assert final.endswith("Successfully built edda12edf3f2\nSuccessfully tagged app:latest\n")
    assert "\x1b[?25h" in final  # the cursor is given back


def test_a_failed_step_is_marked_and_its_last_lines_kept():
    screen = Screen()
    view = TtyView(screen)
    for chunk in STREAM[:6] + [" ---> Running in 55c455244638\n"] + [f"out {i}\n" for i in range(15)]:
        view.write(chunk)
    view.close(failed=True)
    final = _final_frame(screen.getvalue())
    assert " => ERROR [3/4] RUN make" in final
    assert " > [3/4] RUN make:" in final
    assert "   out 14" in final and "   out 5" in final and "out 4\n" not in final


def test_lines_never_wrap_on_a_narrow_terminal(monkeypatch):
    screen = Screen()
    view = TtyView(screen)
    monkeypatch.setattr(view, "_size", lambda: (40, 24))
    view.write("Step 1/1 : RUN " + "x" * 100 + "\n")
    view.close()
    frame = _final_frame(screen.getvalue())
    assert all(len(line.replace("\x1b[K", "")) <= 40 for line in frame.splitlines() if "RUN" in line)


def test_auto_picks_by_terminal():
    assert isinstance(open_view("auto", io.StringIO()), PlainView)
    assert isinstance(open_view("plain", Screen()), PlainView)
    view = open_view("auto", Screen())
    assert isinstance(view, TtyView)
    view.close()
    plain = io.StringIO()
    open_view("plain", plain).write("Step 1/1 : FROM busybox\n")
    assert plain.getvalue() == "Step 1/1 : FROM busybox\n"
