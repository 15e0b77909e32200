# SPDX-License-Identifier: Apache-2.0
"""A stream produced by a thread as it is read: a tar of a layer or a tree goes straight
from its writer to its consumer (an image ingest, an HTTP response) through a pipe,
never held whole in memory or on disk."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from typing import BinaryIO


def open_pipe_reader(produce: Callable[[BinaryIO], None], name: str = "pipe") -> PipeReader:
    """Start `produce(out)` in a thread and return the readable end of what it writes.
    Close it when done; an error in the producer is raised from `read()` at the end."""
    read_fd, write_fd = os.pipe()
    reader = PipeReader(os.fdopen(read_fd, "rb"))

    def run() -> None:
        try:
            with os.fdopen(write_fd, "wb") as sink:
                produce(sink)
        except BrokenPipeError:
            pass  # the reader stopped early and says why itself
        except BaseException as e:  # handed to the reader
            reader.error = e

    reader.thread = threading.Thread(target=run, name=name, daemon=True)
    reader.thread.start()
    return reader


@contextlib.contextmanager
def pipe_reader(produce: Callable[[BinaryIO], None]) -> Iterator[BinaryIO]:
    """`open_pipe_reader` as a block; a producer's error is also raised on leaving it."""
    reader = open_pipe_reader(produce)
    try:
        yield reader  # type: ignore[misc]
    finally:
        reader.close()
    if reader.error is not None:
        raise reader.error


class PipeReader:
    """The read end; re-raises the producer's error at the end of the data."""

    def __init__(self, f: BinaryIO):
        self._f = f
        self.error: BaseException | None = None
        self.thread: threading.Thread | None = None

    def read(self, n: int = -1) -> bytes:
        data = self._f.read(n)
        if not data:
            if self.thread is not None:
                self.thread.join()
            if self.error is not None:
                raise self.error
        return data

    def close(self) -> None:
        self._f.close()  # a producer still writing gets EPIPE and stops
        if self.thread is not None:
            self.thread.join()

    def __enter__(self) -> PipeReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
