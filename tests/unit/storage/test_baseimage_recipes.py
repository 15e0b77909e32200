# SPDX-License-Identifier: Apache-2.0
"""Which names the offline base images answer to, their cache keys, the host's mirror, and
the machine cache's file handling (no bootstrap runs here)."""

from __future__ import annotations

import dataclasses

from dockyard.baseimages import recipes, rootfs
from dockyard.baseimages.cache import MachineCache


def test_names_resolve_to_recipes():
    assert recipes.find("busybox").kind == "host"
    assert recipes.find("debian").name == "debian"          # the recipe name itself
    assert recipes.find("debian:12").name == "debian"
    assert recipes.find("docker.io/library/debian:bookworm-slim").name == "debian-slim"
    assert recipes.find("debian:latest").name == "debian"
    for name in ("debian:sid", "localhost:5000/debian:12", "debian@sha256:" + "a" * 64,
                 "someone/debian:12", "Not A Reference"):
        assert recipes.find(name) is None, name


def test_dockerfile_recipes_answer_their_tags_and_aliases():
    for recipe in recipes.all_recipes():
        if recipe.kind != "dockerfile":
            continue
        assert recipe.base, recipe.name
        assert recipes.find(recipe.base) is not None, f"{recipe.name} builds FROM {recipe.base}: no recipe"
        for ref in recipe.references:
            assert recipes.find(ref) is recipe, ref
        chain = recipes.dependencies(recipe)
        assert chain and chain[-1] is recipes.find(recipe.base)


def test_key_follows_content_and_base():
    debian = recipes.find("debian")
    slim = recipes.find("debian-slim")
    assert debian.key != slim.key
    assert debian.key == recipes.find("debian:12").key
    changed = dataclasses.replace(slim, files=(("extra", b"x"),))
    assert changed.key != slim.key
    dependent = [r for r in recipes.all_recipes() if r.base.startswith("debian:bookworm-slim")]
    if dependent:
        # Building on another base gives another key.
        moved = dataclasses.replace(dependent[0], base="debian:bookworm")
        assert moved.key != dependent[0].key


def test_host_mirror(tmp_path):
    deb822 = tmp_path / "debian.sources"
    deb822.write_text("Types: deb\nURIs: http://mirror.example/debian-security\n\n"
                      "Types: deb\nURIs: http://mirror.example/debian/\nSuites: bookworm\n")
    assert rootfs.host_mirror((str(deb822),)) == "http://mirror.example/debian"
    oneline = tmp_path / "sources.list"
    oneline.write_text("# comment\ndeb [arch=amd64] https://m.example/debian bookworm main\n")
    assert rootfs.host_mirror((str(tmp_path / "missing"), str(oneline))) == "https://m.example/debian"
    assert rootfs.host_mirror((str(tmp_path / "missing"),)) == rootfs.DEFAULT_MIRROR
    assert rootfs.sources("http://m.example/debian")[-1] == "deb http://m.example/debian-security bookworm-security main"


class _Images:
    """Records what the cache saves and loads (the image store's save/load interface)."""

    def __init__(self):
        self.loaded = []

    def save(self, names, out):
        out.write(("archive of " + ",".join(names)).encode())

    def load(self, stream):
        self.loaded.append(stream.read())
        return []


def test_machine_cache_store_replaces_only_its_own_archives(tmp_path):
    cache = MachineCache(tmp_path)
    debian, slim = recipes.find("debian"), recipes.find("debian-slim")
    images = _Images()
    assert not cache.has(slim) and not cache.load(images, slim)
    stale_slim = tmp_path / "debian-slim-0123456789abcdef.tar"
    stale_slim.write_bytes(b"old")
    cache.store(images, debian)
    assert stale_slim.exists()  # "debian-*" must not sweep away debian-slim's archive
    cache.store(images, slim)
    assert not stale_slim.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([cache.path(debian).name, cache.path(slim).name])
    assert cache.load(images, debian)
    assert images.loaded == [b"archive of debian:bookworm,debian:12,debian:stable,debian:latest"]
    assert MachineCache("").path(debian) is None
