# SPDX-License-Identifier: Apache-2.0
"""Push and pull a ~200 MB, 5-layer image between a dockyard daemon and a registry on
127.0.0.1 (dockyard's own `registry serve`); prints MB/s of uncompressed image data.

    .venv/bin/python bench/registry_push_pull.py [--docker unix:///var/run/docker.sock]

With --docker, the same image goes through that Docker engine too (it must treat
127.0.0.1 as insecure, which Docker does by default), side by side. The layers are random
data (which dockyard stores rather than deflates, see distribution/push.py); with
--real IMAGE (e.g. python:3.11-slim, an offline base image) a push of that compressible
image is timed too.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.integration.distribution.conftest import start_dockyard_registry  # noqa: E402
from tests.integration.distribution.test_registry_roundtrip import make_image  # noqa: E402
from tests.support.daemon import running_daemon  # noqa: E402

LAYERS, LAYER_SIZE = 5, 40 << 20


def timed(run, *args: str) -> float:
    start = time.monotonic()
    run(*args, timeout=600)
    return time.monotonic() - start


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--docker", help="a Docker engine host to compare with")
    p.add_argument("--real", help="also push this (offline base) image, e.g. python:3.11-slim")
    args = p.parse_args()
    base = Path(tempfile.mkdtemp(prefix="dy-bench-"))
    reg = start_dockyard_registry(base / "registry")
    total_mb = LAYERS * LAYER_SIZE / 1e6
    try:
        with running_daemon() as daemon:
            name = f"{reg.host}/bench/img:v1"
            make_image(daemon, name, layers=LAYERS, size=LAYER_SIZE, seed="bench")
            push = timed(daemon.cli, "push", name)
            archive = base / "img.tar"
            if args.docker:
                with archive.open("wb") as f:
                    subprocess.run([str(Path(sys.executable).parent / "dockyard"), "-H", daemon.host, "save", name],
                                   stdout=f, check=True)
            daemon.cli("rmi", name)
            pull = timed(daemon.cli, "pull", name)
            print(f"dockyard: push {push:.2f}s ({total_mb / push:.0f} MB/s), pull {pull:.2f}s ({total_mb / pull:.0f} MB/s)")
            if args.real:
                push_real(daemon, reg.host, args.real, args.docker, base)
        if args.docker:
            docker = ["docker", "-H", args.docker]
            dname = f"{reg.host}/bench/docker:v1"
            dpush = docker_push(docker, archive, name, dname)
            subprocess.run([*docker, "rmi", dname], check=True, capture_output=True)
            start = time.monotonic()
            subprocess.run([*docker, "pull", dname], check=True, capture_output=True)
            dpull = time.monotonic() - start
            subprocess.run([*docker, "rmi", dname], capture_output=True)
            print(f"docker:   push {dpush:.2f}s ({total_mb / dpush:.0f} MB/s), pull {dpull:.2f}s ({total_mb / dpull:.0f} MB/s)")
    finally:
        reg.stop()
        shutil.rmtree(base, ignore_errors=True)


def docker_push(docker: list[str], archive: Path, name: str, dname: str) -> float:
    """Load `archive` into the Docker engine, tag `name` as `dname`, time its push; the
    loaded name is removed again, `dname` stays."""
    subprocess.run([*docker, "load", "-i", str(archive)], check=True, capture_output=True)
    subprocess.run([*docker, "tag", name, dname], check=True)
    start = time.monotonic()
    subprocess.run([*docker, "push", dname], check=True, capture_output=True)
    elapsed = time.monotonic() - start
    subprocess.run([*docker, "rmi", name], check=True, capture_output=True)
    return elapsed


def push_real(daemon, host: str, image: str, docker_host: str | None, base: Path) -> None:
    daemon.cli("image", "bootstrap", image, timeout=1200)
    name = f"{host}/bench/real:v1"
    daemon.cli("tag", image, name)
    ours = timed(daemon.cli, "push", name)
    print(f"push_real_dockyard {ours:.2f} s")
    if not docker_host:
        return
    archive = base / "real.tar"
    with archive.open("wb") as f:
        subprocess.run([str(Path(sys.executable).parent / "dockyard"), "-H", daemon.host, "save", name],
                       stdout=f, check=True)
    docker = ["docker", "-H", docker_host]
    theirs = docker_push(docker, archive, name, f"{host}/bench/real-docker:v1")
    subprocess.run([*docker, "rmi", f"{host}/bench/real-docker:v1"], capture_output=True)
    print(f"push_real_docker {theirs:.2f} s")
    print(f"push_real_ratio {theirs / ours:.2f} docker/dockyard")


if __name__ == "__main__":
    main()
