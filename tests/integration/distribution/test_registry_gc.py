# SPDX-License-Identifier: Apache-2.0
"""`dockyard registry gc` on a running dockyard registry: blobs only deleted manifests
needed go, shared ones stay, images still pull; --dry-run changes nothing; the grace
period keeps young blobs; --delete-untagged drops manifests a re-push left behind."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.requires_root


def _blobs(registry) -> set[str]:
    return {p.name for p in (registry.root / "blobs" / "sha256").iterdir()}


def _gc(daemon, registry, *args: str) -> str:
    return daemon.cli("registry", "gc", "--root", str(registry.root), *args).stdout.decode()


def test_gc_keeps_what_tags_need(daemon, registry, tmp_path):
    base, extra = f"{registry.host}/gc/base:1", f"{registry.host}/gc/extra:1"
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox\nRUN echo unique > /unique\n")
    daemon.cli("build", "-t", extra, str(ctx))
    daemon.cli("tag", "busybox", base)
    daemon.cli("push", base)
    daemon.cli("push", extra)
    before = _blobs(registry)

    assert "0 blob(s) deleted" in _gc(daemon, registry, "--grace", "0s")  # everything is in use
    # Delete the extra image's manifest through the API, as `skopeo delete` or a UI would.
    digest = daemon.cli("image", "inspect", "-f", "{{index .RepoDigests 0}}", extra).stdout.decode().strip()
    import urllib.request
    request = urllib.request.Request(f"http://{registry.host}/v2/gc/extra/manifests/{digest.split('@')[1]}",
                                     method="DELETE")
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request) as answer:
        assert answer.status == 202

    dry = _gc(daemon, registry, "--dry-run", "--grace", "0s")
    assert "3 blob(s) would be deleted" in dry and _blobs(registry) == before  # manifest, config, layer
    young = _gc(daemon, registry)  # default grace: an hour; everything here is younger
    assert "0 blob(s) deleted" in young and "3 unreferenced kept for now" in young
    done = _gc(daemon, registry, "--grace", "0s")
    assert "3 blob(s) deleted" in done
    assert len(_blobs(registry)) == len(before) - 3

    daemon.cli("rmi", base, extra)
    daemon.cli("pull", base)  # what is still tagged still pulls, whole
    assert daemon.cli("run", "--rm", base, "true").returncode == 0


def test_gc_delete_untagged(daemon, registry, tmp_path):
    name = f"{registry.host}/gc/moving:latest"
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    for version in ("one", "two"):
        (ctx / "Dockerfile").write_text(f"FROM busybox\nRUN echo {version} > /version\n")
        daemon.cli("build", "-t", name, str(ctx))
        daemon.cli("push", name)
    kept = _gc(daemon, registry, "--grace", "0s")
    assert "0 blob(s) deleted" in kept  # the old manifest is untagged, but still there
    dropped = _gc(daemon, registry, "--grace", "0s", "--delete-untagged")
    assert dropped.count("deleted untagged manifest gc/moving@sha256:") == 1
    assert "3 blob(s) deleted" in dropped
    daemon.cli("rmi", name)
    daemon.cli("pull", name)
    assert daemon.cli("run", "--rm", name, "cat", "/version").stdout == b"two\n"
