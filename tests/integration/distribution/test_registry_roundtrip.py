# SPDX-License-Identifier: Apache-2.0
"""Push and pull between dockyard and real registries on 127.0.0.1: dockyard's own server
(plain HTTP, htpasswd with Basic or bearer tokens, TLS with a test CA), Debian's
docker-registry, and skopeo as a third-party client of our server."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import urllib.request
from pathlib import Path

import pytest

from tests.integration.distribution.conftest import PASSWORD, USER, trusted_ca
from tests.support.registry import free_port, start_dockyard_registry, wait_port

pytestmark = pytest.mark.requires_root


def make_image(daemon, name: str, layers: int = 3, size: int = 256 << 10, seed: str = "") -> str:
    """Load a docker-archive with `layers` layers of random-ish data; returns the image ID."""
    blobs, diff_ids = [], []
    for i in range(layers):
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w") as tf:
            data = b"".join(hashlib.sha256(f"{seed}{name}{i}-{n}".encode()).digest() for n in range(size // 32))
            info = tarfile.TarInfo(f"layer{i}/data.bin")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        blob = raw.getvalue()
        blobs.append(blob)
        diff_ids.append("sha256:" + hashlib.sha256(blob).hexdigest())
    config = json.dumps({"architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
                         "config": {"Cmd": ["/bin/sh"]}, "rootfs": {"type": "layers", "diff_ids": diff_ids},
                         "history": [{"created": "2024-01-01T00:00:00Z", "created_by": f"layer {i}"}
                                     for i in range(layers)]}).encode()
    config_hex = hashlib.sha256(config).hexdigest()
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tf:
        def add(path: str, data: bytes) -> None:
            info = tarfile.TarInfo(path)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        add(f"{config_hex}.json", config)
        for blob, diff in zip(blobs, diff_ids, strict=True):
            add(f"{diff[7:]}/layer.tar", blob)
        add("manifest.json", json.dumps([{"Config": f"{config_hex}.json", "RepoTags": [name],
                                          "Layers": [f"{d[7:]}/layer.tar" for d in diff_ids]}]).encode())
    daemon.cli("load", input=out.getvalue())
    return "sha256:" + config_hex


def image_id(daemon, name: str) -> str:
    return daemon.cli("image", "inspect", "-f", "{{.Id}}", name).stdout.decode().strip()


def test_push_pull_own_registry_plain_http(daemon, registry):
    name = f"{registry.host}/team/app:v1"
    iid = make_image(daemon, name)
    out = daemon.cli("push", name).stdout.decode()
    assert "Pushed" in out and "v1: digest: sha256:" in out
    digest = out.split("digest: ")[1].split()[0]
    # A second repository of the same registry gets the layers by cross-repository mount.
    daemon.cli("tag", name, f"{registry.host}/team/copy:v1")
    out2 = daemon.cli("push", f"{registry.host}/team/copy:v1").stdout.decode()
    assert "Mounted from team/app" in out2
    with urllib.request.urlopen(f"http://{registry.host}/v2/_catalog") as r:
        assert json.load(r)["repositories"] == ["team/app", "team/copy"]
    with urllib.request.urlopen(f"http://{registry.host}/v2/team/app/tags/list") as r:
        assert json.load(r)["tags"] == ["v1"]

    daemon.cli("rmi", name, f"{registry.host}/team/copy:v1")
    assert daemon.cli("image", "inspect", iid, check=False).returncode != 0
    pulled = daemon.cli("pull", name).stdout.decode()
    assert "Pull complete" in pulled and f"Digest: {digest}" in pulled
    assert image_id(daemon, name) == iid
    repo_digests = daemon.cli("image", "inspect", "-f", "{{json .RepoDigests}}", name).stdout.decode()
    assert f"{registry.host}/team/app@{digest}" in repo_digests
    again = daemon.cli("pull", name).stdout.decode()
    assert "Image is up to date" in again
    # By digest, and quietly.
    daemon.cli("rmi", name)
    assert daemon.cli("pull", "-q", f"{registry.host}/team/app@{digest}").stdout.decode().strip() == \
        f"{registry.host}/team/app@{digest}"
    assert image_id(daemon, f"{registry.host}/team/app@{digest}") == iid
    # Search answers from the registry's catalog.
    found = daemon.cli("search", f"{registry.host}/team").stdout.decode()
    assert "team/app" in found and "team/copy" in found
    daemon.cli("rmi", "-f", iid)


def test_pull_all_tags_and_unknown(daemon, registry):
    a = f"{registry.host}/multi/img"
    make_image(daemon, f"{a}:one", layers=1, seed="one")
    make_image(daemon, f"{a}:two", layers=2, seed="two")
    daemon.cli("push", "-a", a)
    daemon.cli("rmi", f"{a}:one", f"{a}:two")
    daemon.cli("pull", "-a", a)
    tags = daemon.cli("images", "--format", "{{.Tag}}", a).stdout.decode().split()
    assert sorted(tags) == ["one", "two"]
    missing = daemon.cli("pull", f"{registry.host}/multi/nope:x", check=False)
    assert missing.returncode != 0 and b"manifest unknown" in missing.stderr
    daemon.cli("rmi", f"{a}:one", f"{a}:two")


def test_tampered_blob_is_rejected(daemon, registry):
    name = f"{registry.host}/tamper/img:v1"
    iid = make_image(daemon, name, layers=2, seed="tamper")
    daemon.cli("push", name)
    daemon.cli("rmi", name)
    # Flip bytes inside one stored layer blob (the largest files are the layers).
    blobs = sorted((registry.root / "blobs" / "sha256").iterdir(), key=lambda p: p.stat().st_size)
    victim = blobs[-1]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    result = daemon.cli("pull", name, check=False)
    assert result.returncode != 0
    assert b"digest mismatch" in result.stderr or b"invalid compressed layer" in result.stderr
    assert daemon.cli("image", "inspect", iid, check=False).returncode != 0
    assert daemon.cli("images", "-q", "-a").stdout.decode().count(iid[7:19]) == 0


def test_htpasswd_basic_and_token_over_tls(daemon, tmp_path, tls_files, htpasswd, monkeypatch):
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    env = {**os.environ, "DOCKER_CONFIG": str(tmp_path / "docker-config")}
    for mode in ("basic", "token"):
        reg = start_dockyard_registry(tmp_path / f"reg-{mode}", "--htpasswd", str(htpasswd), "--auth", mode,
                                      "--tls-cert", str(tls_files.cert), "--tls-key", str(tls_files.key))
        try:
            with trusted_ca(reg.host, tls_files.ca):
                name = f"{reg.host}/secure/{mode}:v1"
                make_image(daemon, name, layers=2, seed=mode)
                denied = daemon.cli("push", name, check=False, env=env)
                assert denied.returncode != 0
                assert b"unauthorized" in denied.stderr.lower() or b"authentication required" in denied.stderr
                bad = daemon.cli("login", "-u", USER, "--password-stdin", reg.host, input=b"wrong\n",
                                 check=False, env=env)
                assert bad.returncode != 0
                ok = daemon.cli("login", "-u", USER, "--password-stdin", reg.host, input=PASSWORD.encode() + b"\n",
                                env=env)
                assert b"Login Succeeded" in ok.stdout
                config = json.loads((tmp_path / "docker-config" / "config.json").read_text())
                assert reg.host in config["auths"]
                daemon.cli("push", name, env=env)
                daemon.cli("rmi", name)
                daemon.cli("pull", name, env=env)
                daemon.cli("rmi", name)
                assert b"Removing login credentials" in daemon.cli("logout", reg.host, env=env).stdout
                assert daemon.cli("pull", name, check=False, env=env).returncode != 0
            # Without the CA in certs.d, but with a wrong one, TLS verification fails.
            with trusted_ca(reg.host, tls_files.other_ca):
                failed = daemon.cli("login", "-u", USER, "--password-stdin", reg.host,
                                    input=PASSWORD.encode(), check=False, env=env)
                assert failed.returncode != 0 and b"certificate" in failed.stderr
        finally:
            reg.stop()


def test_docker_cli_push_pull_through_dockyard(daemon, registry):
    if not shutil.which("docker"):
        pytest.skip("no docker CLI")
    name = f"{registry.host}/dockercli/img"
    make_image(daemon, f"{name}:latest", layers=2, seed="dockercli")
    out = daemon.docker("push", name).stdout.decode()
    assert "latest: digest: sha256:" in out
    daemon.docker("rmi", name)
    out = daemon.docker("pull", name).stdout.decode()
    assert "Downloaded newer image" in out
    daemon.docker("rmi", name)


def test_debian_docker_registry_htpasswd_tls(daemon, tmp_path, tls_files, htpasswd):
    binary = shutil.which("docker-registry")
    if not binary:
        pytest.skip("Debian's docker-registry is not installed")
    port = free_port()
    config = tmp_path / "config.yml"
    config.write_text(f"""version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: {tmp_path / 'data'}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
  tls:
    certificate: {tls_files.cert}
    key: {tls_files.key}
auth:
  htpasswd:
    realm: dockyard-test
    path: {htpasswd}
""")
    log = tmp_path / "registry.log"
    process = subprocess.Popen([binary, "serve", str(config)], stdout=log.open("wb"), stderr=subprocess.STDOUT)
    env = {**os.environ, "DOCKER_CONFIG": str(tmp_path / "docker-config")}
    host = f"127.0.0.1:{port}"
    try:
        wait_port(port, process, log)
        with trusted_ca(host, tls_files.ca):
            name = f"{host}/ref/img:v1"
            iid = make_image(daemon, name, layers=3, seed="distribution")
            daemon.cli("login", "-u", USER, "--password-stdin", host, input=PASSWORD.encode(), env=env)
            daemon.cli("push", name, env=env)
            daemon.cli("tag", name, f"{host}/ref/other:v1")
            assert b"Mounted from ref/img" in daemon.cli("push", f"{host}/ref/other:v1", env=env).stdout
            daemon.cli("rmi", name, f"{host}/ref/other:v1")
            daemon.cli("pull", name, env=env)
            assert image_id(daemon, name) == iid
            daemon.cli("rmi", name)
    finally:
        process.kill()
        process.wait()


def test_skopeo_against_our_registry(daemon, registry, tmp_path):
    if not shutil.which("skopeo"):
        pytest.skip("skopeo is not installed")
    name = f"{registry.host}/sko/img:v1"
    iid = make_image(daemon, name, layers=2, seed="skopeo")
    daemon.cli("push", name)
    # skopeo pulls what we pushed, checking every digest itself.
    inspect = subprocess.run(["skopeo", "inspect", "--tls-verify=false", f"docker://{name}"],
                             capture_output=True, check=True)
    assert json.loads(inspect.stdout)["Digest"].startswith("sha256:")
    archive = tmp_path / "img.tar"
    subprocess.run(["skopeo", "copy", "--src-tls-verify=false", f"docker://{name}",
                    f"docker-archive:{archive}:sko/img:v1"], capture_output=True, check=True)
    # skopeo pushes (chunked upload, its own manifest) and we pull that.
    subprocess.run(["skopeo", "copy", "--dest-tls-verify=false", f"docker-archive:{archive}",
                    f"docker://{registry.host}/sko/fromskopeo:v2"], capture_output=True, check=True)
    daemon.cli("pull", f"{registry.host}/sko/fromskopeo:v2")
    assert image_id(daemon, f"{registry.host}/sko/fromskopeo:v2") == iid
    daemon.cli("rmi", "-f", iid)


def test_interrupted_pull_leaves_nothing_and_resumes(daemon, tmp_path):
    root = tmp_path / "reg"
    reg = start_dockyard_registry(root)
    name = f"{reg.host}/big/img:v1"
    iid = make_image(daemon, name, layers=4, size=24 << 20, seed="interrupt")
    daemon.cli("push", name)
    daemon.cli("rmi", name)
    port = int(reg.host.split(":")[1])
    pull = subprocess.Popen([str(Path(os.sys.executable).parent / "dockyard"), "-H", daemon.host, "pull", name],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # Kill the registry as soon as the first layer bytes flow.
    for line in pull.stdout:  # type: ignore[union-attr]
        if b"Pulling fs layer" in line:
            break
    reg.stop()
    _, err = pull.communicate(timeout=60)
    if pull.returncode == 0:
        pytest.skip("the pull finished before the registry was killed")
    assert daemon.cli("image", "inspect", iid, check=False).returncode != 0
    reg = start_dockyard_registry(root, port=port)
    try:
        daemon.cli("pull", name, timeout=120)
        assert image_id(daemon, name) == iid
        daemon.cli("rmi", name)
    finally:
        reg.stop()
