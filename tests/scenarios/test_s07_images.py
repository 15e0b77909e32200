# SPDX-License-Identifier: Apache-2.0
"""Scenario 7, image commands [seeds 001, 002, 003]: pull, images / image ls, search,
tag, login + push to a registry, rmi / image rm, inspect, names of the form
registry/account/repository:tag, and `latest` as the default tag.

The registry is dockyard's own (`dockyard registry serve`) on 127.0.0.1 with an htpasswd
file, standing in for Docker Hub (unreachable here); 127.0.0.0/8 registries are spoken
to over plain HTTP, as Docker does."""

from __future__ import annotations

import json
import re
import warnings

import pytest

from tests.support.registry import start_dockyard_registry

pytestmark = [pytest.mark.requires_root, pytest.mark.scenario, pytest.mark.timeout(1800)]

USER, PASSWORD = "john", "hub-s3cret"


@pytest.fixture
def registry(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt
    htpasswd = tmp_path / "htpasswd"
    hashed = crypt.crypt(PASSWORD, crypt.mksalt(crypt.METHOD_BLOWFISH)).replace("$2b$", "$2y$", 1)
    htpasswd.write_text(f"{USER}:{hashed}\n")
    (tmp_path / "registry").mkdir()
    reg = start_dockyard_registry(tmp_path / "registry", "--htpasswd", str(htpasswd))
    try:
        yield reg.host
    finally:
        reg.stop()


def image_id(client, name: str) -> str:
    return client.out("image", "inspect", "-f", "{{.Id}}", name).strip()


def test_image_commands(client, made, registry):
    # `docker pull ubuntu:latest` (seed 000): no ubuntu image is made offline, so debian
    # (also an apt-based distribution image) takes its place.
    pulled = client("pull", "debian:latest", timeout=1500)
    assert re.search(r"^latest: Pulling from library/debian$", pulled.out, re.M), pulled.out
    assert "Status: " in pulled.out and pulled.out.rstrip().endswith("docker.io/library/debian:latest"), pulled.out
    # Without a tag, `latest` is meant.
    again = client.out("pull", "debian")
    assert "Using default tag: latest" in again and "Image is up to date for debian:latest" in again, again

    for listing in (("images",), ("image", "ls")):
        rows = client.out(*listing, "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").splitlines()
        assert any(row.startswith("debian:latest ") for row in rows), rows
    table = client.out("images", "debian").splitlines()
    assert table[0].split()[:3] == ["REPOSITORY", "TAG", "IMAGE"], table
    assert any(line.split()[:2] == ["debian", "latest"] for line in table[1:]), table
    # Seed 003 pulls nginx and pushes it to the user's account.
    client("pull", "nginx", timeout=1500)
    nginx_id = image_id(client, "nginx:latest")

    # registry/account/repository:tag
    target = made.image(f"{registry}/{USER}/nginx:v1")
    hub_style = made.image(f"{USER}/nginx:v1")
    client("tag", "nginx:latest", target)
    client("tag", "nginx:latest", hub_style)
    assert image_id(client, target) == nginx_id == image_id(client, hub_style)
    info = client.inspect(target, "image")
    assert {target, hub_style, "nginx:latest"} <= set(info["RepoTags"]), info["RepoTags"]
    rows = client.out("images", "--format", "{{.Repository}} {{.Tag}}", f"{registry}/{USER}/nginx").splitlines()
    assert rows == [f"{registry}/{USER}/nginx v1"], rows

    # Pushing needs a login.
    denied = client("push", target, check=False, timeout=300)
    assert denied.rc != 0
    assert re.search(r"unauthorized|authentication required|no basic auth credentials", denied.both,
                     re.I), denied
    bad = client("login", "-u", USER, "--password-stdin", registry, input="wrong\n", check=False)
    assert bad.rc != 0
    login = client("login", "-u", USER, "--password-stdin", registry, input=PASSWORD + "\n")
    assert "Login Succeeded" in login.out, login
    assert registry in json.loads((client.config_dir / "config.json").read_text())["auths"]
    pushed = client("push", target, timeout=600)
    assert f"The push refers to repository [{registry}/{USER}/nginx]" in pushed.out, pushed.out
    match = re.search(r"^v1: digest: (sha256:[0-9a-f]{64}) size: \d+$", pushed.out, re.M)
    assert match, pushed.out
    digest = match.group(1)

    # search answers from the registry's catalog.
    found = client.out("search", f"{registry}/{USER}")
    assert found.splitlines()[0].split()[:2] == ["NAME", "DESCRIPTION"], found
    assert f"{USER}/nginx" in found, found

    # latest is the default tag when tagging, pushing and pulling.
    box = made.image(f"{registry}/{USER}/box")
    client("pull", "busybox")
    client("tag", "busybox", box)
    assert client.out("images", "--format", "{{.Tag}}", box).split() == ["latest"]
    pushed_box = client("push", box, timeout=300)
    assert "Using default tag: latest" in pushed_box.both and re.search(r"^latest: digest: sha256:", pushed_box.out, re.M)
    busybox_id = image_id(client, "busybox")
    client("rmi", box)
    assert client("image", "inspect", box, check=False).rc != 0
    pulled_box = client.out("pull", box, timeout=300)
    assert "Using default tag: latest" in pulled_box and f"{box}:latest" in pulled_box, pulled_box
    assert image_id(client, f"{box}:latest") == busybox_id

    # rmi / image rm untag; the image itself stays while other names point at it.
    removed = client.out("rmi", target)
    assert f"Untagged: {target}" in removed and "Deleted:" not in removed
    client("image", "rm", hub_style)
    assert client("image", "inspect", target, check=False).rc != 0
    assert image_id(client, "nginx:latest") == nginx_id
    # And back from the registry: the same image, with the digest the push reported.
    pulled = client.out("pull", target, timeout=600)
    # (Docker says "Downloaded newer image" here, the tag being new: see
    # test_pull_of_an_untagged_local_image_reports_the_new_tag.)
    assert f"Digest: {digest}" in pulled, pulled
    assert re.search(rf"^Status: (Downloaded newer image|Image is up to date) for {re.escape(target)}$", pulled, re.M)
    assert image_id(client, target) == nginx_id
    assert f"{registry}/{USER}/nginx@{digest}" in client.inspect(target, "image")["RepoDigests"]

    logout = client.out("logout", registry)
    assert f"Removing login credentials for {registry}" in logout
    assert client("pull", target, check=False, timeout=120).rc != 0  # anonymous pulls are refused too


def test_pull_of_an_untagged_local_image_reports_the_new_tag(client, made, registry):
    client("login", "-u", USER, "--password-stdin", registry, input=PASSWORD + "\n")
    client("pull", "busybox")
    box = made.image(f"{registry}/{USER}/retag:v1")
    client("tag", "busybox", box)
    client("push", box, timeout=300)
    client("rmi", box)  # untags; busybox:latest keeps the image
    pulled = client.out("pull", box, timeout=300)
    assert f"Status: Downloaded newer image for {box}" in pulled, pulled


@pytest.fixture
def second_registry(tmp_path):
    (tmp_path / "registry2").mkdir()
    reg = start_dockyard_registry(tmp_path / "registry2", "--htpasswd", str(tmp_path / "htpasswd"))
    try:
        yield reg.host
    finally:
        reg.stop()


def test_unauthenticated_push_says_unauthorized_after_an_earlier_push(client, made, registry, second_registry):
    client("pull", "busybox")
    first = made.image(f"{registry}/{USER}/first:v1")
    second = made.image(f"{second_registry}/{USER}/second:v1")
    client("tag", "busybox", first)
    client("tag", "busybox", second)
    client("login", "-u", USER, "--password-stdin", registry, input=PASSWORD + "\n")
    client("push", first, timeout=300)
    denied = client("push", second, check=False, timeout=300)
    assert denied.rc != 0
    assert "unauthorized: authentication required" in denied.both, denied
