# SPDX-License-Identifier: Apache-2.0
"""The daemon's side of incremental build contexts (the wire format is in
contextsync.py): the files of each client directory's last build, kept so the next
build of it receives and hashes only what changed.

Layout, under `<data-root>/builder/contexts/<key>/`:

    index.json      {path: [fingerprint, pack, offset, size, digest]} for regular files
    <pack>.tar      the context tars received (each file's data at its offset)

Every build's body becomes one more pack; a pack is deleted once no file of the current
index lies in it and no running build reads it, and when dead data outweighs the live
files the live ones are copied into one fresh pack (copied, not hashed again). Blocking
throughout: the build service calls it in a thread.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from dockyard.builder import contextsync
from dockyard.builder.buildsecrets import is_secret_member
from dockyard.builder.context import (
    CHUNK,
    BuildContext,
    Entry,
    add_entry,
    clean,
    new_index,
    read_context,
)
from dockyard.diskusage import tree_size
from dockyard.errors import InvalidParameter

INDEX = "index.json"


class Kept(NamedTuple):
    """One regular file of a key's index (stored as a JSON list in this order)."""

    fingerprint: str
    pack: str       # file name of the pack under the key's directory
    offset: int
    size: int
    digest: str

    def holds(self, fingerprint: str, size: int) -> bool:
        """Whether this is the file the client describes (the size guards the read)."""
        return self.fingerprint == fingerprint and self.size == size


Index = dict[str, Kept]
# Compact a key's packs when they hold more than this many times the live bytes.
DEAD_RATIO = 2
# ...and at least this much is dead (small contexts are not worth rewriting).
DEAD_MIN = 8 << 20


class ContextCache:
    def __init__(self, root: Path):
        self.root = root
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}
        self._readers: dict[Path, int] = {}   # pack → running builds reading it

    # ── entry points ──────────────────────────────────────────────────────────────────

    def needed(self, key: str, manifest: bytes) -> list[str]:
        """The regular files of `manifest` the daemon does not hold for `key` (blocking)."""
        items = contextsync.decode(manifest)
        self._check(key)
        with self._key_lock(key):
            index = self._load(key)
        need = []
        for info, print_ in items:
            rel = clean(info.name)
            if info.isreg() and not is_secret_member(rel):
                kept = index.get(rel)
                if kept is None or not kept.holds(print_, info.size):
                    need.append(info.name)
        return need

    def receive(self, key: str, body: BinaryIO) -> BuildContext:
        """The full context of a build whose body carries the manifest and the needed
        files (blocking). Raises InvalidParameter(contextsync.STALE) when a file the
        manifest leaves out is no longer kept."""
        self._check(key)
        directory = self.root / key
        with self._key_lock(key):
            directory.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix="pack-", suffix=".tar", dir=directory)
            pack = Path(name)
            try:
                with os.fdopen(fd, "wb") as out:
                    found, received, held = read_context(body, out, contextsync.MANIFEST)
                if held is None:
                    raise InvalidParameter(f"the build context has no {contextsync.MANIFEST}")
                entries, index = self._assemble(contextsync.decode(held), received, pack, self._load(key))
                self._save(key, index)
            except BaseException:
                pack.unlink(missing_ok=True)
                raise
            used = {e.pack for e in entries.values() if e.pack is not None}
            if pack not in used:
                pack.unlink()
            with self._lock:
                for p in used:
                    self._readers[p] = self._readers.get(p, 0) + 1
            self._collect(key, index)

        def release() -> None:
            with self._key_lock(key):
                with self._lock:
                    for p in used:
                        self._readers[p] -= 1
                        if not self._readers[p]:
                            del self._readers[p]
                self._collect(key, self._load(key))

        return BuildContext(pack, entries, found, release=release)

    def prune(self) -> int:
        """Drop every kept context no build is reading; the bytes freed (blocking)."""
        freed = 0
        if not self.root.is_dir():
            return 0
        for directory in self.root.iterdir():
            with self._key_lock(directory.name):
                with self._lock:
                    busy = any(p.parent == directory for p in self._readers)
                if not busy:
                    freed += tree_size(directory)
                    shutil.rmtree(directory, ignore_errors=True)
        return freed

    # ── internals ─────────────────────────────────────────────────────────────────────

    def _assemble(self, items: list[tuple[Any, str]], received: dict[str, Entry], pack: Path,
                  index: Index) -> tuple[dict[str, Entry], Index]:
        directory = pack.parent
        entries = new_index()
        kept: Index = {}
        for info, print_ in items:
            rel = clean(info.name)
            if is_secret_member(rel) or rel == contextsync.MANIFEST:
                continue
            entry = Entry(rel, info)
            if info.isreg():
                got = received.get(rel)
                if got is not None and got.info.isreg() and got.info.size == info.size:
                    entry.pack, entry.offset, entry.digest = pack, got.offset, got.digest
                else:
                    old = index.get(rel)
                    if old is None or not old.holds(print_, info.size) or not (directory / old.pack).is_file():
                        raise InvalidParameter(f"{contextsync.STALE}: {rel}")
                    entry.pack, entry.offset, entry.digest = directory / old.pack, old.offset, old.digest
                kept[rel] = Kept(print_, entry.pack.name, entry.offset, info.size, entry.digest)
            add_entry(entries, entry)
        return entries, kept

    def _collect(self, key: str, index: Index) -> None:
        """Delete the key's packs nothing uses; compact when most of their bytes are dead.
        Called with the key's lock held."""
        directory = self.root / key
        live: dict[str, int] = {}
        for kept in index.values():
            live[kept.pack] = live.get(kept.pack, 0) + kept.size
        with self._lock:
            reading = {p.name for p in self._readers if p.parent == directory}
        packs = {p.name: p.stat().st_size for p in directory.glob("pack-*.tar")}
        for name in set(packs) - set(live) - reading:
            (directory / name).unlink(missing_ok=True)
            del packs[name]
        # Packs a build still reads go once it ends; only the others count here, so a
        # compaction (after which all live data is in one pack) is never repeated.
        total = sum(size for name, size in packs.items() if name not in reading)
        used = sum(size for name, size in live.items() if name not in reading)
        if total - used > DEAD_MIN and total > DEAD_RATIO * used:
            self._compact(key, index)

    def _compact(self, key: str, index: Index) -> None:
        directory = self.root / key
        fd, name = tempfile.mkstemp(prefix="pack-", suffix=".tar", dir=directory)
        new = Path(name)
        try:
            with os.fdopen(fd, "wb") as out:
                for rel, kept in sorted(index.items(), key=lambda item: (item[1].pack, item[1].offset)):
                    with open(directory / kept.pack, "rb") as src:
                        src.seek(kept.offset)
                        offset = out.tell()
                        _copy(src, out, kept.size)
                    index[rel] = kept._replace(pack=new.name, offset=offset)
            self._save(key, index)
        except BaseException:
            new.unlink(missing_ok=True)
            raise
        self._collect(key, index)

    def _load(self, key: str) -> Index:
        """The key's index; empty when missing or unreadable (then everything is sent)."""
        try:
            data = json.loads((self.root / key / INDEX).read_bytes())
            return {rel: Kept(*fields) for rel, fields in data.items()}
        except (FileNotFoundError, ValueError, TypeError, AttributeError):
            return {}

    def _save(self, key: str, index: Index) -> None:
        path = self.root / key / INDEX
        tmp = path.with_name(f".{INDEX}.{secrets.token_hex(4)}")
        tmp.write_text(json.dumps(index, separators=(",", ":")))
        os.replace(tmp, path)

    def _key_lock(self, key: str) -> threading.Lock:
        with self._lock:
            return self._key_locks.setdefault(key, threading.Lock())

    @staticmethod
    def _check(key: str) -> None:
        if not contextsync.valid_key(key):
            raise InvalidParameter(f"invalid build context key {key!r:.80}")


def _copy(src: BinaryIO, out: BinaryIO, size: int) -> None:
    while size > 0:
        chunk = src.read(min(CHUNK, size))
        if not chunk:
            raise OSError("a kept build-context pack is shorter than its index says")
        out.write(chunk)
        size -= len(chunk)
