# SPDX-License-Identifier: Apache-2.0
"""--cache-from matching (Docker's ImageCache rule) over image configs."""

from dataclasses import dataclass

from dockyard.builder.cachefrom import CacheSources, _valid_parent
from dockyard.errors import NotFound


def _entry(created_by, when="2024-01-01T00:00:00Z", empty=False):
    entry = {"created": when, "created_by": created_by}
    if empty:
        entry["empty_layer"] = True
    return entry


BASE = {"history": [_entry("BusyBox")], "rootfs": {"type": "layers", "diff_ids": ["sha256:b"]}}
STEP1 = _entry("/bin/sh -c #(nop)  ENV A=1", "2025-01-01T00:00:01Z", empty=True)
STEP2 = _entry("/bin/sh -c echo built > /b", "2025-01-01T00:00:02Z")
SOURCE = {"history": [*BASE["history"], STEP1, STEP2],
          "rootfs": {"type": "layers", "diff_ids": ["sha256:b", "sha256:s2"]}}
AFTER_STEP1 = {"history": [*BASE["history"], STEP1], "rootfs": BASE["rootfs"]}


@dataclass
class _Record:
    parent: str


class FakeImages:
    def __init__(self, configs, parents=None):
        self.configs = configs
        self.db = self
        self.parents = parents or {}

    def get(self, name):
        if name not in self.configs:
            raise NotFound(f"No such image: {name}")
        return type("Image", (), {"id": name})

    def config_of(self, image_id):
        return self.configs[image_id]

    def get_image(self, image_id):
        return _Record(self.parents.get(image_id, "")) if image_id in self.configs else None


def test_valid_parent_needs_history_and_layers_as_a_prefix():
    assert _valid_parent(SOURCE, None)
    assert _valid_parent(SOURCE, BASE) and _valid_parent(SOURCE, AFTER_STEP1)
    assert not _valid_parent(SOURCE, SOURCE)  # nothing left to match
    rebuilt = {**BASE, "history": [_entry("BusyBox", "2030-01-01T00:00:00Z")]}
    assert not _valid_parent(SOURCE, rebuilt)  # same text, another time: another image
    assert not _valid_parent(SOURCE, {**BASE, "rootfs": {"diff_ids": ["sha256:other"]}})
    assert not _valid_parent({"history": []}, None)


def test_the_last_entry_gives_the_source_itself_and_a_mismatch_gives_nothing():
    images = FakeImages({"sha256:base": BASE, "sha256:src": SOURCE, "sha256:mid": AFTER_STEP1})
    sources = CacheSources(images, ["sha256:src", "missing:tag"])  # a missing one is skipped
    assert sources.sources == ["sha256:src"]
    assert sources.match("sha256:mid", STEP2["created_by"], {}) == "sha256:src"
    assert sources.match("sha256:mid", "/bin/sh -c echo other > /b", {}) is None
    assert sources.match("sha256:base", STEP2["created_by"], {}) is None  # STEP1 comes first
    assert not CacheSources(images, ["missing:tag"])


def test_local_hits_count_only_inside_a_source_chain():
    images = FakeImages({"sha256:src": SOURCE, "sha256:mid": AFTER_STEP1, "sha256:other": BASE},
                        parents={"sha256:src": "sha256:mid"})
    sources = CacheSources(images, ["sha256:src"])
    assert sources.accepts("sha256:mid")
    assert not sources.accepts("sha256:other") and not sources.accepts("sha256:src")
