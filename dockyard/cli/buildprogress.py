# SPDX-License-Identifier: Apache-2.0
"""How `dockyard build` shows the daemon's build stream (`--progress`).

    plain   the classic builder's text as it arrives (`Step 2/5 : RUN …`, ` ---> Using
            cache`, the RUN output, `Successfully built …`), what Docker prints
    tty     a view redrawn in place about ten times a second: a header with the elapsed
            time and the steps done, one line per step (`CACHED` for a cache hit, a
            spinner and the running time for the step at work, its duration once done)
            and the last lines of the running step's output; at the end the whole step
            list stays on screen, followed by the result lines (and, when the build
            failed, the last lines the failing step printed)
    auto    tty when the output is a terminal, plain otherwise

The tty view is drawn from the same classic stream (it knows no more than plain does):
a step starts at its `Step N/M` line and ends at its ` ---> <id>` line. The stages a
build runs at the same time arrive one after another (the daemon groups each stage's
lines), so a stage that waited behind another shows its steps when it is released.

Stdlib only, imported only by `dockyard build`.
"""

from __future__ import annotations

import collections
import os
import re
import threading
import time
from dataclasses import dataclass, field

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TextIO

_STEP = re.compile(r"^Step (\d+/\d+) : (.*)$")
_DONE = re.compile(r"^ ---> [0-9a-f]{12}$")
_QUIET_LINES = re.compile(r"^( ---> Running in [0-9a-f]{12}|Removing intermediate container [0-9a-f]{12}|"
                          r"# Executing \d+ build triggers?)$")
_RESULT = re.compile(r"^(Successfully (built|tagged) |\[Warning\] )")
_LIVE_LINES = 6      # output lines shown under the running step
_FAILED_LINES = 10   # output lines of the failing step shown at the end
_TICK = 0.1


class PlainView:
    """The classic output, unchanged."""

    def __init__(self, out: TextIO):
        self.out = out

    def write(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()

    def status(self, message: dict[str, Any]) -> None:
        pass  # pull progress of a FROM image: the classic builder does not print it

    def close(self, failed: bool = False) -> None:
        pass


@dataclass
class _Step:
    number: str
    text: str
    started: float
    ended: float | None = None
    cached: bool = False
    failed: bool = False
    output: collections.deque[str] = field(default_factory=lambda: collections.deque(maxlen=_FAILED_LINES))


class TtyView:
    """The live view; a thread redraws it while the stream comes in."""

    def __init__(self, out: TextIO):
        self.out = out
        self.steps: list[_Step] = []
        self.results: list[str] = []
        self.started = time.monotonic()
        self._partial = ""
        self._height = 0
        self._frame = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        encoding = (getattr(out, "encoding", None) or "").lower().replace("-", "")
        self._spinner = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏" if encoding == "utf8" else "-\\|/"
        self.out.write("\x1b[?25l")  # no cursor blinking over the redraws
        self._thread = threading.Thread(target=self._tick, daemon=True)
        self._thread.start()

    # ── the stream ────────────────────────────────────────────────────────────────────

    def write(self, text: str) -> None:
        with self._lock:
            lines = (self._partial + text).split("\n")
            self._partial = lines.pop()
            for line in lines:
                self._line(line.rsplit("\r", 1)[-1])

    def status(self, message: dict[str, Any]) -> None:
        """A pull's progress while a FROM image is fetched: shown as that step's output."""
        text = " ".join(str(message[k]) for k in ("id", "status", "progress") if message.get(k))
        if text:
            with self._lock:
                self._output(text)

    def close(self, failed: bool = False) -> None:
        """Leave the final view (the whole step list) on screen; `failed`: the build
        did not finish, so the step at work is the one that failed."""
        self._stop.set()
        self._thread.join()
        with self._lock:
            if self._partial:
                self._line(self._partial)
                self._partial = ""
            now = time.monotonic()
            for step in self.steps:
                if step.ended is None:
                    step.ended = now
                    step.failed = failed
            lines = self._header(now) + [line for step in self.steps for line in self._step_lines(step, now, live=False)]
            failed = next((s for s in self.steps if s.failed), None)
            if failed is not None and failed.output:
                lines += ["------", f" > [{failed.number}] {failed.text}:"]
                lines += [f"   {line}" for line in failed.output] + ["------"]
            self._draw(lines, fit=False)
            self.out.write("\x1b[?25h")
            for line in self.results:
                self.out.write(line + "\n")
            self.out.flush()

    def _line(self, line: str) -> None:
        now = time.monotonic()
        match = _STEP.match(line)
        if match:
            self._finish(now)
            self.steps.append(_Step(match.group(1), match.group(2), now))
        elif line == " ---> Using cache":
            if self.steps:
                self.steps[-1].cached = True
        elif _DONE.match(line):
            self._finish(now)
        elif _RESULT.match(line) or not self.steps:
            self.results.append(line)
        elif not _QUIET_LINES.match(line):
            self._output(line)

    def _output(self, line: str) -> None:
        if self.steps:
            self.steps[-1].output.append(line)

    def _finish(self, now: float) -> None:
        if self.steps and self.steps[-1].ended is None:
            self.steps[-1].ended = now

    # ── drawing ───────────────────────────────────────────────────────────────────────

    def _tick(self) -> None:
        while not self._stop.wait(_TICK):
            with self._lock:
                self._frame += 1
                now = time.monotonic()
                lines = self._header(now)
                for step in self.steps:
                    lines += self._step_lines(step, now, live=True)
                self._draw(lines, fit=True)

    def _header(self, now: float) -> list[str]:
        done = sum(1 for s in self.steps if s.ended is not None)
        total = self.steps[-1].number.split("/")[1] if self.steps else "?"
        return [f"[+] Building {now - self.started:.1f}s ({done}/{total})"]

    def _step_lines(self, step: _Step, now: float, *, live: bool) -> list[str]:
        running = step.ended is None
        mark = self._spinner[self._frame % len(self._spinner)] if running else "=>"
        label = ("CACHED " if step.cached else "") + ("ERROR " if step.failed else "")
        seconds = f"{(step.ended or now) - step.started:.1f}s"
        width = self._columns()
        text = f" {mark} {label}[{step.number}] {step.text}"
        room = max(10, width - len(seconds) - 2)
        if len(text) > room:
            text = text[:room - 1] + "…"
        lines = [text.ljust(room) + " " + seconds]
        if live and running:
            lines += [(" => => # " + line)[:width] for line in list(step.output)[-_LIVE_LINES:]]
        return lines

    def _draw(self, lines: list[str], *, fit: bool) -> None:
        if fit:
            # Lines above the screen's top cannot be redrawn: keep the frame on screen,
            # dropping the oldest finished steps from the live view.
            room = max(3, self._rows() - 1)
            if len(lines) > room:
                lines = lines[:1] + lines[len(lines) - room + 1:]
        chunks = [f"\x1b[{self._height}F"] if self._height else []
        chunks += [line + "\x1b[K\n" for line in lines]
        if len(lines) < self._height:
            chunks.append("\x1b[J")
        self._height = len(lines)
        self.out.write("".join(chunks))
        self.out.flush()

    def _columns(self) -> int:
        return self._size()[0]

    def _rows(self) -> int:
        return self._size()[1]

    def _size(self) -> tuple[int, int]:
        try:
            size = os.get_terminal_size(self.out.fileno())
        except (AttributeError, OSError, ValueError):
            return 80, 24
        return size.columns or 80, size.lines or 24


def open_view(mode: str, out: TextIO) -> PlainView | TtyView:
    """The view for `--progress=mode` (auto, plain or tty) writing to `out`."""
    if mode == "auto":
        isatty = getattr(out, "isatty", None)
        mode = "tty" if isatty is not None and isatty() else "plain"
    return TtyView(out) if mode == "tty" else PlainView(out)
