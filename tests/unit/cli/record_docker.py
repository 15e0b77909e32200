# SPDX-License-Identifier: Apache-2.0
"""Record what the official docker CLI sends and prints for each scenario in docker_scenarios.py.

    .venv/bin/python -m tests.unit.cli.record_docker [NAME-PREFIX ...]

For every scenario the docker CLI is run against a ScriptedEngine serving the scenario's
routes, in a scratch working directory holding the scenario's files, with an empty
DOCKER_CONFIG; its requests, stdout, stderr and exit status go to
docker_recordings.json (scenarios not selected keep their previous recording).
test_cli_docker_parity.py replays the same scenarios against our CLI.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.unit.cli.docker_scenarios import SCENARIOS, Scenario, normalise, prepare_workdir
from tests.unit.cli.scripted_engine import ScriptedEngine

RECORDINGS = Path(__file__).parent / "docker_recordings.json"


def record(scenario: Scenario, docker: str) -> dict:
    work = Path(tempfile.mkdtemp(prefix="record-docker-"))
    config = work / ".docker-config"
    config.mkdir()
    try:
        cwd = prepare_workdir(scenario, work / "cwd")
        with ScriptedEngine(scenario.routes) as engine:
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "HOME": str(work),
                "DOCKER_CONFIG": str(config),
                "DOCKER_CLI_HINTS": "false",
                **scenario.env,
            }
            proc = subprocess.run(
                [docker, "-H", engine.url, *scenario.args],
                input=scenario.stdin,
                capture_output=True,
                cwd=cwd,
                env=env,
                timeout=30,
            )
            requests = list(engine.requests)
        result = {
            "args": scenario.args,
            "status": proc.returncode,
            "stdout": proc.stdout.decode("utf-8", "replace"),
            "stderr": proc.stderr.decode("utf-8", "replace"),
            "requests": requests,
            "files": _files(cwd) if scenario.capture_files else None,
        }
        return normalise(result, str(cwd), "docker")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _files(root: Path) -> dict[str, str]:
    out = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            out[rel] = "-> " + os.readlink(path)
        elif path.is_dir():
            out[rel + "/"] = ""
        else:
            out[rel] = path.read_bytes().decode("utf-8", "replace")[:200]
    return out


def main(argv: list[str]) -> int:
    docker = shutil.which("docker")
    if not docker:
        print("no docker CLI on PATH", file=sys.stderr)
        return 1
    version = subprocess.run([docker, "--version"], capture_output=True, text=True).stdout.strip()
    existing = json.loads(RECORDINGS.read_text()) if RECORDINGS.exists() else {"cases": {}}
    cases = existing.get("cases", {})
    for scenario in SCENARIOS:
        if argv and not any(scenario.name.startswith(prefix) for prefix in argv):
            continue
        cases[scenario.name] = record(scenario, docker)
        print(f"{scenario.name}: exit {cases[scenario.name]['status']}")
    names = {s.name for s in SCENARIOS}
    cases = {k: v for k, v in sorted(cases.items()) if k in names}
    # One case per line: small, and a re-recording shows as a readable diff.
    lines = [f"{json.dumps(name)}: {json.dumps(case, separators=(',', ':'))}" for name, case in cases.items()]
    RECORDINGS.write_text(
        "{" + f'"docker": {json.dumps(version)}, "cases": {{\n' + ",\n".join(lines) + "\n}}\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
