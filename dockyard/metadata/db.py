# SPDX-License-Identifier: Apache-2.0
"""The metadata database: one SQLite file (WAL) holding every reference between objects.

Schema (version 1, see `_MIGRATIONS`)::

    layers        chain_id ─┐ diff_id, parent (chain id), size, blob_digest, media_type
    images        id ───────┼─ parent (image id, for build/commit), created, size, added, last_tag_time
    image_layers  image_id ─┘ position, chain_id        (an image's layers, bottom first)
    refs          ref → image_id                        (normalized tags and digests)
    containers    id, name (unique, with leading "/"), image, created, doc (ContainerInspect JSON)
    objects       (kind, key) → doc                     (networks, volumes, build cache, …)

The schema version lives in `PRAGMA user_version`; `_MIGRATIONS[n]` upgrades n → n+1 and
runs in the same transaction as the version bump. Each thread gets its own connection,
and `transaction()` groups calls made on that thread into one atomic `BEGIN IMMEDIATE`.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dockyard.errors import Conflict

_MIGRATIONS: list[str] = [
    # 0 → 1
    """
    CREATE TABLE layers (
        chain_id    TEXT PRIMARY KEY,
        diff_id     TEXT NOT NULL,
        parent      TEXT,
        size        INTEGER NOT NULL,
        blob_digest TEXT,
        media_type  TEXT NOT NULL
    );
    CREATE TABLE images (
        id            TEXT PRIMARY KEY,
        parent        TEXT NOT NULL DEFAULT '',
        created       TEXT NOT NULL DEFAULT '',
        size          INTEGER NOT NULL DEFAULT 0,
        added         TEXT NOT NULL DEFAULT '',
        last_tag_time TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX images_parent ON images(parent);
    CREATE TABLE image_layers (
        image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        chain_id TEXT NOT NULL REFERENCES layers(chain_id),
        PRIMARY KEY (image_id, position)
    );
    CREATE INDEX image_layers_chain ON image_layers(chain_id);
    CREATE TABLE refs (
        ref      TEXT PRIMARY KEY,
        image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE
    );
    CREATE INDEX refs_image ON refs(image_id);
    CREATE TABLE containers (
        id      TEXT PRIMARY KEY,
        name    TEXT NOT NULL UNIQUE,
        image   TEXT NOT NULL DEFAULT '',
        doc     TEXT NOT NULL
    );
    CREATE INDEX containers_image ON containers(image);
    CREATE TABLE objects (
        kind TEXT NOT NULL,
        key  TEXT NOT NULL,
        doc  TEXT NOT NULL,
        PRIMARY KEY (kind, key)
    );
    """,
]

SCHEMA_VERSION = len(_MIGRATIONS)


@dataclass
class LayerRecord:
    chain_id: str
    diff_id: str
    parent: str | None
    size: int
    blob_digest: str | None
    media_type: str


@dataclass
class ImageRecord:
    id: str
    chain_ids: list[str]
    size: int = 0
    parent: str = ""
    created: str = ""
    added: str = ""
    last_tag_time: str = ""
    refs: list[str] = field(default_factory=list)


class MetadataDB:
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._all_lock = threading.Lock()
        self._all: list[sqlite3.Connection] = []
        self._migrate()

    # ── transactions ────────────────────────────────────────────────────────────

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Everything this thread does inside the block commits or rolls back together.

        Nested blocks join the outer one. `BEGIN IMMEDIATE` takes the write lock up
        front, so read-check-write sequences (name reservation) cannot interleave.
        """
        conn = self._conn()
        depth = getattr(self._local, "depth", 0)
        if depth:
            self._local.depth = depth + 1
            try:
                yield conn
            finally:
                self._local.depth = depth
            return
        conn.execute("BEGIN IMMEDIATE")
        self._local.depth = 1
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")
        finally:
            self._local.depth = 0

    def check(self) -> list[str]:
        """What SQLite's integrity and foreign-key checks find wrong ([] when all is well)."""
        conn = self._conn()
        problems = [f"integrity check: {result}" for (result,) in conn.execute("PRAGMA integrity_check")
                    if result != "ok"]
        problems += [f"a {table} row (rowid {rowid}) refers to a missing {parent} row"
                     for table, rowid, parent, _ in conn.execute("PRAGMA foreign_key_check")]
        return problems

    def close(self) -> None:
        with self._all_lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()

    # ── containers ──────────────────────────────────────────────────────────────

    def put_container(self, doc: dict[str, Any]) -> None:
        """Insert or replace a container record (ContainerInspect shape), keyed by Id.

        Raises Conflict, with Docker's message, if another container holds the name.
        """
        cid, name = doc["Id"], doc["Name"]
        with self.transaction() as conn:
            row = conn.execute(
                "SELECT id FROM containers WHERE name = ? AND id != ?", (name, cid)
            ).fetchone()
            if row is not None:
                raise Conflict(
                    f'Conflict. The container name "{name}" is already in use by container '
                    f'"{row[0]}". You have to remove (or rename) that container to be able '
                    "to reuse that name."
                )
            conn.execute(
                "INSERT INTO containers (id, name, image, doc) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET name = excluded.name, image = excluded.image, "
                "doc = excluded.doc",
                (cid, name, doc.get("Image") or "", json.dumps(doc)),
            )

    def get_container(self, container_id: str) -> dict[str, Any] | None:
        row = self._conn().execute(
            "SELECT doc FROM containers WHERE id = ?", (container_id,)
        ).fetchone()
        return json.loads(row[0]) if row else None

    def delete_container(self, container_id: str) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM containers WHERE id = ?", (container_id,))

    def list_containers(self) -> list[dict[str, Any]]:
        """Every container, oldest record first."""
        rows = self._conn().execute("SELECT doc FROM containers ORDER BY rowid").fetchall()
        return [json.loads(r[0]) for r in rows]

    def container_ids_using_image(self, image_id: str) -> list[str]:
        rows = self._conn().execute(
            "SELECT id FROM containers WHERE image = ? ORDER BY rowid", (image_id,)
        ).fetchall()
        return [r[0] for r in rows]

    # ── generic documents (networks, volumes, …) ────────────────────────────────

    def put_object(self, kind: str, key: str, doc: Any) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO objects (kind, key, doc) VALUES (?, ?, ?) "
                "ON CONFLICT(kind, key) DO UPDATE SET doc = excluded.doc",
                (kind, key, json.dumps(doc)),
            )

    def get_object(self, kind: str, key: str) -> Any | None:
        row = self._conn().execute(
            "SELECT doc FROM objects WHERE kind = ? AND key = ?", (kind, key)
        ).fetchone()
        return json.loads(row[0]) if row else None

    def delete_object(self, kind: str, key: str) -> bool:
        with self.transaction() as conn:
            cur = conn.execute("DELETE FROM objects WHERE kind = ? AND key = ?", (kind, key))
            return cur.rowcount > 0

    def list_objects(self, kind: str) -> list[Any]:
        rows = self._conn().execute(
            "SELECT doc FROM objects WHERE kind = ? ORDER BY rowid", (kind,)
        ).fetchall()
        return [json.loads(r[0]) for r in rows]

    # ── layers ──────────────────────────────────────────────────────────────────

    def put_layer(self, layer: LayerRecord) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO layers (chain_id, diff_id, parent, size, blob_digest, "
                "media_type) VALUES (?, ?, ?, ?, ?, ?)",
                (layer.chain_id, layer.diff_id, layer.parent, layer.size, layer.blob_digest,
                 layer.media_type),
            )

    def get_layer(self, chain_id: str) -> LayerRecord | None:
        row = self._conn().execute(
            "SELECT chain_id, diff_id, parent, size, blob_digest, media_type FROM layers "
            "WHERE chain_id = ?", (chain_id,)
        ).fetchone()
        return LayerRecord(*row) if row else None

    def list_layers(self) -> list[LayerRecord]:
        rows = self._conn().execute(
            "SELECT chain_id, diff_id, parent, size, blob_digest, media_type FROM layers"
        ).fetchall()
        return [LayerRecord(*r) for r in rows]

    def layer_in_use(self, chain_id: str) -> bool:
        row = self._conn().execute(
            "SELECT 1 FROM image_layers WHERE chain_id = ? LIMIT 1", (chain_id,)
        ).fetchone()
        return row is not None

    def blob_in_use(self, digest: str) -> bool:
        """Whether any image (as its config) or layer (as its tar) still needs the blob."""
        conn = self._conn()
        if conn.execute("SELECT 1 FROM images WHERE id = ?", (digest,)).fetchone():
            return True
        return conn.execute(
            "SELECT 1 FROM layers WHERE blob_digest = ? LIMIT 1", (digest,)
        ).fetchone() is not None

    def delete_layer(self, chain_id: str) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM layers WHERE chain_id = ?", (chain_id,))

    # ── images and references ───────────────────────────────────────────────────

    def put_image(self, image: ImageRecord) -> bool:
        """Record an image (its layers must be recorded already); False if it existed."""
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO images (id, parent, created, size, added, last_tag_time) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (image.id, image.parent, image.created, image.size, image.added,
                 image.last_tag_time),
            )
            if cur.rowcount == 0:
                return False
            conn.executemany(
                "INSERT INTO image_layers (image_id, position, chain_id) VALUES (?, ?, ?)",
                [(image.id, i, c) for i, c in enumerate(image.chain_ids)],
            )
            return True

    def get_image(self, image_id: str) -> ImageRecord | None:
        conn = self._conn()
        row = conn.execute(
            "SELECT id, parent, created, size, added, last_tag_time FROM images WHERE id = ?",
            (image_id,),
        ).fetchone()
        if row is None:
            return None
        return self._image_from_row(conn, row)

    def list_images(self) -> list[ImageRecord]:
        conn = self._conn()
        rows = conn.execute(
            "SELECT id, parent, created, size, added, last_tag_time FROM images ORDER BY rowid"
        ).fetchall()
        return [self._image_from_row(conn, r) for r in rows]

    def search_image_ids(self, hex_prefix: str) -> list[str]:
        """Image IDs whose hex starts with `hex_prefix` (lowercase hex only)."""
        rows = self._conn().execute(
            "SELECT id FROM images WHERE substr(id, 8, ?) = ?", (len(hex_prefix), hex_prefix)
        ).fetchall()
        return [r[0] for r in rows]

    def image_children(self, image_id: str) -> list[str]:
        rows = self._conn().execute(
            "SELECT id FROM images WHERE parent = ? ORDER BY rowid", (image_id,)
        ).fetchall()
        return [r[0] for r in rows]

    def delete_image(self, image_id: str) -> None:
        """Forget an image with its layer list and references (not the layers themselves)."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM refs WHERE image_id = ?", (image_id,))
            conn.execute("DELETE FROM image_layers WHERE image_id = ?", (image_id,))
            conn.execute("DELETE FROM images WHERE id = ?", (image_id,))

    def set_last_tag_time(self, image_id: str, when: str) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE images SET last_tag_time = ? WHERE id = ?", (when, image_id))

    def set_ref(self, ref: str, image_id: str) -> str | None:
        """Point a normalized reference at an image; returns the image it pointed at before."""
        with self.transaction() as conn:
            row = conn.execute("SELECT image_id FROM refs WHERE ref = ?", (ref,)).fetchone()
            conn.execute(
                "INSERT INTO refs (ref, image_id) VALUES (?, ?) "
                "ON CONFLICT(ref) DO UPDATE SET image_id = excluded.image_id",
                (ref, image_id),
            )
            return row[0] if row else None

    def get_ref(self, ref: str) -> str | None:
        row = self._conn().execute("SELECT image_id FROM refs WHERE ref = ?", (ref,)).fetchone()
        return row[0] if row else None

    def delete_ref(self, ref: str) -> bool:
        with self.transaction() as conn:
            return conn.execute("DELETE FROM refs WHERE ref = ?", (ref,)).rowcount > 0

    def refs_for_image(self, image_id: str) -> list[str]:
        rows = self._conn().execute(
            "SELECT ref FROM refs WHERE image_id = ? ORDER BY rowid", (image_id,)
        ).fetchall()
        return [r[0] for r in rows]

    def list_refs(self) -> list[tuple[str, str]]:
        """All (ref, image_id) pairs, in the order they were first set."""
        return [
            (r[0], r[1])
            for r in self._conn().execute("SELECT ref, image_id FROM refs ORDER BY rowid")
        ]

    # ── helpers ─────────────────────────────────────────────────────────────────

    def _image_from_row(self, conn: sqlite3.Connection, row: tuple) -> ImageRecord:
        chain_ids = [
            r[0]
            for r in conn.execute(
                "SELECT chain_id FROM image_layers WHERE image_id = ? ORDER BY position", (row[0],)
            )
        ]
        refs = [
            r[0]
            for r in conn.execute("SELECT ref FROM refs WHERE image_id = ? ORDER BY rowid", (row[0],))
        ]
        return ImageRecord(
            id=row[0], parent=row[1], created=row[2], size=row[3], added=row[4],
            last_tag_time=row[5], chain_ids=chain_ids, refs=refs,
        )

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: we issue BEGIN/COMMIT ourselves (see `transaction`).
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=30.0
        )
        conn.execute("PRAGMA journal_mode=WAL")
        # FULL: a committed transaction survives power loss, not only a process crash.
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        with self._all_lock:
            self._all.append(conn)
        return conn

    def _migrate(self) -> None:
        conn = self._conn()
        conn.execute("BEGIN EXCLUSIVE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise RuntimeError(
                    f"{self.path}: schema version {version} is newer than this dockyard "
                    f"supports ({SCHEMA_VERSION})"
                )
            for step in range(version, SCHEMA_VERSION):
                for statement in _split_sql(_MIGRATIONS[step]):
                    conn.execute(statement)
                # user_version is part of the database header, so it commits (or rolls
                # back) together with the migration that justifies it.
                conn.execute(f"PRAGMA user_version = {step + 1}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


def _split_sql(script: str) -> list[str]:
    # executescript() would COMMIT our open transaction first; run statements one by one.
    return [s.strip() for s in script.split(";") if s.strip()]
