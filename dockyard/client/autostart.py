# SPDX-License-Identifier: Apache-2.0
"""Start the default daemon in the background when the CLI finds nobody answering.

Only for the default socket: a user who named a host with -H or DOCKER_HOST wants that
daemon, not a fresh local one. The daemon runs detached in its own session, logging to
/var/log/dockyard.log, and outlives the command that started it. Success is silent.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from typing import TYPE_CHECKING

from dockyard.client.errors import DaemonUnavailable

if TYPE_CHECKING:
    from dockyard.client.api import APIClient

LOG_FILE = "/var/log/dockyard.log"
START_TIMEOUT = 10.0


def start_daemon(client: APIClient, timeout: float = START_TIMEOUT) -> None:
    """Spawn the daemon and wait until `/_ping` answers; raises DaemonUnavailable if not."""
    proc = _spawn(daemon_command())
    deadline = time.monotonic() + timeout
    delay = 0.02
    while True:
        try:
            client.ping()
            return
        except DaemonUnavailable:
            pass
        if proc.poll() is not None:
            raise DaemonUnavailable(
                client.base_url,
                f"the daemon exited with status {proc.returncode}; see {LOG_FILE}",
            )
        if time.monotonic() >= deadline:
            raise DaemonUnavailable(
                client.base_url, f"the daemon did not answer within {timeout:.0f}s; see {LOG_FILE}"
            )
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


def daemon_command() -> list[str]:
    """`dockyardd` installed beside this interpreter, else `python -m dockyard.daemon.main`."""
    scripts = os.path.dirname(sys.executable)
    candidate = os.path.join(scripts, "dockyardd")
    if os.access(candidate, os.X_OK):
        return [candidate]
    found = shutil.which("dockyardd")
    if found:
        return [found]
    return [sys.executable, "-m", "dockyard.daemon.main"]


def _spawn(command: list[str]) -> subprocess.Popen[bytes]:
    try:
        log = open(LOG_FILE, "ab")
    except OSError:
        # Not root, or no /var/log: the daemon keeps its own log settings; we still start it.
        log = open(os.devnull, "ab")
    with log:
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            close_fds=True,
        )
