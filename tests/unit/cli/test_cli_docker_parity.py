# SPDX-License-Identifier: Apache-2.0
"""Our CLI against docker's, scenario by scenario (docker_scenarios.py).

Each scenario was run with the official docker CLI (28.2.2) against a ScriptedEngine by
record_docker.py; docker_recordings.json holds what it sent and printed. Here our CLI
runs the same command line against the same script and must send the same requests —
method, path, query and body — and print the same stdout and stderr (`dockyard` read as
`docker`) with the same exit status, and leave the same files behind.
"""

from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path

import pytest

from dockyard.cli.command import Cli
from dockyard.cli.main import dispatch
from tests.unit.cli.docker_scenarios import SCENARIOS, Scenario, normalise, prepare_workdir
from tests.unit.cli.scripted_engine import ScriptedEngine

RECORDINGS = json.loads((Path(__file__).parent / "docker_recordings.json").read_text())["cases"]


class Streams:
    def __init__(self, stdin: bytes = b""):
        self.stdin = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8")
        self.stdout = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True)
        self.stderr = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True)

    def out(self) -> str:
        return self.stdout.buffer.getvalue().decode("utf-8", "replace")

    def err(self) -> str:
        return self.stderr.buffer.getvalue().decode("utf-8", "replace")


def run_ours(scenario: Scenario, work: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    cwd = prepare_workdir(scenario, work / "cwd")
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("HOME", str(work))
    for key in [k for k in os.environ if k not in ("PATH", "HOME")]:
        monkeypatch.delenv(key, raising=False)
    for key, value in scenario.env.items():
        monkeypatch.setenv(key, value)
    if "TZ" in scenario.env:
        time.tzset()
    try:
        with ScriptedEngine(scenario.routes) as engine:
            streams = Streams(scenario.stdin)
            cli = Cli(host=engine.url, stdin=streams.stdin, stdout=streams.stdout, stderr=streams.stderr)
            status = dispatch(cli, list(scenario.args))
            requests = list(engine.requests)
    finally:
        monkeypatch.undo()
        time.tzset()
    from tests.unit.cli.record_docker import _files

    result = {
        "status": status,
        "stdout": streams.out(),
        "stderr": streams.err(),
        "requests": requests,
        "files": _files(cwd) if scenario.capture_files else None,
    }
    return normalise(result, str(cwd), "dockyard")


def comparable(requests: list[dict], scenario: Scenario) -> list[dict]:
    out = []
    for request in requests:
        query = {}
        for key, values in request["query"].items():
            if key in scenario.volatile:
                values = ["<volatile>"]
            elif key == "filters":
                values = [json.loads(v) for v in values]
            query[key] = values
        body = request["body"]
        if isinstance(body, dict):
            body = _sorted_lists(body)
        item = {"method": request["method"], "path": request["path"], "query": query, "body": body}
        if body is not None:
            item["content_type"] = request["content_type"].split(";")[0]
        out.append(item)
    if scenario.unordered:
        out.sort(key=lambda r: json.dumps(r, sort_keys=True))
    return out


def _sorted_lists(body: dict) -> dict:
    # Docker builds Binds and Env from Go maps: their order is random there.
    body = json.loads(json.dumps(body))
    host = body.get("HostConfig")
    if isinstance(host, dict) and host.get("Binds"):
        host["Binds"] = sorted(host["Binds"])
    if body.get("Env") and "Image" in body:
        body["Env"] = sorted(body["Env"])
    return body


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_same_as_docker(scenario: Scenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    recorded = RECORDINGS.get(scenario.name)
    if recorded is None:
        pytest.skip("not recorded yet: run python -m tests.unit.cli.record_docker")
    ours = run_ours(scenario, tmp_path, monkeypatch)
    assert comparable(ours["requests"], scenario) == comparable(recorded["requests"], scenario)
    if "stdout" not in scenario.skip:
        assert ours["stdout"] == recorded["stdout"]
    if "stderr" not in scenario.skip:
        assert ours["stderr"] == recorded["stderr"]
    assert ours["status"] == recorded["status"]
    if scenario.capture_files:
        assert ours["files"] == recorded["files"]
