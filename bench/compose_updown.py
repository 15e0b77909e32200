# SPDX-License-Identifier: Apache-2.0
"""`compose up -d` and `down` of a 10-service project (busybox services that stop on
SIGTERM, one named volume, the default network), side by side:

    dockyard compose  on dockyard's daemon
    docker-compose 1.29 (Debian's, the Python v1 tool) on Docker 20.10 (docker.io)
    dockyard compose  on Docker 20.10 (the same engine, to separate client from engine)

Run as root from the repository: `.venv/bin/python bench/compose_updown.py [rounds]`.
It starts its own dockyard daemon and dockerd on temporary roots (tests/support) and
prints the median seconds of each step over the rounds.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.daemon import running_daemon  # noqa: E402
from tests.support.dockerd import running_dockerd  # noqa: E402

BIN = Path(sys.executable).parent
SERVICES = 10


def compose_file() -> str:
    lines = ["services:"]
    for i in range(SERVICES):
        lines += [
            f"  s{i}:",
            "    image: busybox",
            "    command: [\"sh\", \"-c\", \"trap 'exit 0' TERM; sleep 3600 & wait\"]",
        ]
        if i:
            lines.append(f"    depends_on: [s{i - 1 if i % 3 else 0}]")
        if i == 0:
            lines.append("    volumes: [data:/data]")
    lines += ["volumes:", "  data:"]
    return "\n".join(lines) + "\n"


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.monotonic()
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True)
    elapsed = time.monotonic() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {result.stderr.decode()}")
    return elapsed


def measure(label: str, tool: list[str], cwd: Path, env: dict[str, str], rounds: int) -> tuple[float, float]:
    ups, downs = [], []
    for _ in range(rounds):
        ups.append(timed([*tool, "up", "-d"], cwd, env))
        downs.append(timed([*tool, "down", "-v"], cwd, env))
    up, down = statistics.median(ups), statistics.median(downs)
    print(f"{label:45s} up -d {up:6.2f}s   down {down:6.2f}s   total {up + down:6.2f}s", flush=True)
    return up, down


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    work = Path(tempfile.mkdtemp(prefix="compose-bench-"))
    project = work / "bench10"
    project.mkdir()
    (project / "compose.yaml").write_text(compose_file())
    (project / "docker-compose.yml").write_text("version: '3.8'\n" + compose_file())
    v1 = shutil.which("docker-compose")
    results = {}
    try:
        with running_daemon() as daemon:
            subprocess.run([str(BIN / "dockyard"), "-H", daemon.host, "run", "--rm", "busybox", "true"], check=True)
            image = subprocess.run([str(BIN / "dockyard"), "-H", daemon.host, "save", "busybox"],
                                   check=True, capture_output=True).stdout
            ours = [str(BIN / "dockyard"), "-H", daemon.host, "compose", "-f", "compose.yaml"]
            results["dockyard"] = measure("dockyard compose / dockyard", ours, project, dict(os.environ), rounds)
            with running_dockerd() as engine:
                engine.docker("load", input=image)
                if v1:
                    env = {**os.environ, "DOCKER_HOST": engine.host}
                    results["v1"] = measure("docker-compose 1.29 / Docker 20.10",
                                            [v1, "-f", "docker-compose.yml"], project, env, rounds)
                theirs = [str(BIN / "dockyard"), "-H", engine.host, "compose", "-f", "compose.yaml"]
                results["dy-docker"] = measure("dockyard compose / Docker 20.10", theirs, project,
                                               dict(os.environ), rounds)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if "v1" in results:
        ours_total = sum(results["dockyard"])
        v1_total = sum(results["v1"])
        print(f"ratio dockyard/(docker-compose 1.29 on Docker): {ours_total / v1_total:.2f}x (target <= 0.5x)")


if __name__ == "__main__":
    main()
