# SPDX-License-Identifier: Apache-2.0
"""Autostart: spawn the daemon detached, poll /_ping until it answers, report failures."""

from __future__ import annotations

import os
import sys
import textwrap

import pytest

from dockyard.client import autostart
from dockyard.client.api import APIClient
from dockyard.client.errors import DaemonUnavailable

# A stand-in daemon: answers /_ping on a unix socket after a short delay, as a real
# daemon does once it has restored its state.
SERVER = textwrap.dedent(
    """
    import os, socket, sys, time
    time.sleep(0.3)
    path = sys.argv[1]
    s = socket.socket(socket.AF_UNIX); s.bind(path); s.listen(4)
    s.settimeout(5)  # and gone once the test stops calling: nothing outlives the suite
    print("session", os.getsid(0) == os.getpid(), flush=True)
    for _ in range(20):
        try:
            c, _ = s.accept()
        except TimeoutError:
            break
        c.recv(65536)
        c.sendall(b"HTTP/1.1 200 OK\\r\\nApi-Version: 1.44\\r\\nContent-Length: 2\\r\\n\\r\\nOK")
        c.close()
    """
)


def test_start_daemon_waits_for_ping(tmp_path, monkeypatch):
    sock = tmp_path / "d.sock"
    log = tmp_path / "daemon.log"
    monkeypatch.setattr(autostart, "LOG_FILE", str(log))
    monkeypatch.setattr(
        autostart, "daemon_command", lambda: [sys.executable, "-c", SERVER, str(sock)]
    )
    client = APIClient(f"unix://{sock}")
    with pytest.raises(DaemonUnavailable):
        client.ping()
    autostart.start_daemon(client, timeout=10)
    assert client.ping() == "OK"
    assert client.api_version == "1.44"
    # Detached into its own session, with its output in the log file.
    assert "session True" in log.read_text()


def test_start_daemon_reports_an_early_exit(tmp_path, monkeypatch):
    monkeypatch.setattr(autostart, "LOG_FILE", str(tmp_path / "daemon.log"))
    monkeypatch.setattr(
        autostart, "daemon_command", lambda: [sys.executable, "-c", "raise SystemExit(3)"]
    )
    client = APIClient(f"unix://{tmp_path}/none.sock")
    with pytest.raises(DaemonUnavailable) as info:
        autostart.start_daemon(client, timeout=10)
    assert "exited with status 3" in info.value.detail


def test_daemon_command_prefers_the_installed_script():
    command = autostart.daemon_command()
    scripts = os.path.dirname(sys.executable)
    if os.access(os.path.join(scripts, "dockyardd"), os.X_OK):
        assert command == [os.path.join(scripts, "dockyardd")]
    else:
        assert command[-2:] == ["-m", "dockyard.daemon.main"] or command[0].endswith("dockyardd")
