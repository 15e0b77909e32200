# SPDX-License-Identifier: Apache-2.0
"""A thin wrapper around conmon + runc: create, start, kill, delete, attach sockets, exit files, container logs. Holds no state logic.

`Runtime` (runtime.py) drives the processes, `AttachConnection` (attach.py) speaks conmon's
attach socket, `read_log` (logs.py) reads conmon's log files.
"""

from dockyard.runtime.attach import STDERR, STDIN, STDOUT, AttachConnection
from dockyard.runtime.exechelper import ExecSession
from dockyard.runtime.failures import NoSuchContainer, RuntimeFailure
from dockyard.runtime.logs import LogRecord, read_log, read_log_batches
from dockyard.runtime.runtime import ExitStatus, Runtime

__all__ = [
    "STDERR", "STDIN", "STDOUT", "AttachConnection", "ExecSession", "ExitStatus",
    "LogRecord", "NoSuchContainer", "Runtime", "RuntimeFailure", "read_log", "read_log_batches",
]
