# SPDX-License-Identifier: Apache-2.0
"""Two client paths end to end: a Docker Hub name pulled through `--registry-mirror`
(a dockyard registry on 127.0.0.1 standing in for the mirror), and an image whose layers
are zstd-compressed (an OCI manifest pushed by skopeo) pulled and run."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.support.daemon import running_daemon

pytestmark = pytest.mark.requires_root


def test_docker_hub_names_come_from_the_mirror(daemon, registry, tmp_path):
    marker = tmp_path / "ctx"
    marker.mkdir()
    (marker / "Dockerfile").write_text("FROM busybox\nRUN echo from-the-mirror > /where\n")
    mirrored = f"{registry.host}/library/mirrored:latest"
    daemon.cli("build", "-t", mirrored, str(marker))
    daemon.cli("push", mirrored)
    with running_daemon(["--registry-mirror", f"http://{registry.host}"]) as other:
        out = other.cli("pull", "mirrored").stdout.decode()  # docker.io/library/mirrored
        assert "Downloaded newer image for mirrored:latest" in out
        assert other.cli("run", "--rm", "mirrored", "cat", "/where").stdout == b"from-the-mirror\n"
        mirrors = other.cli("info", "--format", "{{json .RegistryConfig.Mirrors}}").stdout.decode()
        assert mirrors.strip() == f'["http://{registry.host}/"]'
        assert f"Registry Mirrors:\n  http://{registry.host}/" in other.docker("info").stdout.decode()


def test_zstd_layers_pull_and_run(daemon, registry, tmp_path):
    if not shutil.which("skopeo"):
        pytest.skip("skopeo is not installed")
    archive = tmp_path / "box.tar"
    daemon.cli("pull", "busybox")
    archive.write_bytes(daemon.cli("save", "busybox").stdout)
    name = f"{registry.host}/z/busybox:zstd"
    subprocess.run(["skopeo", "copy", "--dest-tls-verify=false", "--format", "oci",
                    "--dest-compress-format", "zstd", "--dest-compress", f"docker-archive:{archive}",
                    f"docker://{name}"], capture_output=True, check=True)
    manifest = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{name}"],
                              capture_output=True, check=True).stdout
    assert b"tar+zstd" in manifest
    daemon.cli("pull", name)
    assert daemon.cli("run", "--rm", name, "echo", "zstd-ok").stdout == b"zstd-ok\n"
    daemon.cli("rmi", name)
