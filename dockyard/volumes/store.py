# SPDX-License-Identifier: Apache-2.0
"""The local volume driver: volumes as directories under the data root, their documents
in the metadata DB, and the driver's mounts (`-o type=… -o device=… -o o=…`).

On disk (`config.volumes_dir`)::

    <name>/_data          the volume's contents (or, with options, where it gets mounted)
    .new-<name>-<rand>/   a volume being made; renamed to <name> inside the DB transaction
    .gone-<name>-<rand>/  a volume being deleted, after its DB row went
    <name>/.stage-<rand>/ a copy-up in progress, renamed over the empty _data when complete

Crash safety: a volume exists when both its row and its directory do. `create` renames
the finished directory into place inside the transaction that inserts the row, and
`remove` deletes the row before it moves the directory aside, so a crash leaves at worst
a directory without a row — `reconcile` (at daemon start) deletes those, with the
`.new-`/`.gone-`/`.stage-` leftovers, and gives a row whose directory vanished an empty
one back. All methods block; the service calls them in threads.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import secrets
import shutil
import subprocess
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard.diskusage import tree_size
from dockyard.errors import DockyardError, InvalidParameter, NotFound
from dockyard.volumes.specs import LOCAL_DRIVER

if TYPE_CHECKING:
    from dockyard.metadata.db import MetadataDB

log = logging.getLogger("dockyard.volumes")

KIND = "volume"
OPTION_KEYS = ("type", "device", "o")


class LocalStore:
    """Volumes of the `local` driver under `root`, rows in `db` (kind "volume"). With
    `owner` (the host IDs of a remapped root, --userns-remap) a new volume's `_data`
    belongs to it, as in Docker, so the container's root can write there."""

    def __init__(self, root: Path, db: MetadataDB, owner: tuple[int, int] | None = None):
        self.root = Path(root)
        self.db = db
        self.owner = owner
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o701)

    # ── documents ─────────────────────────────────────────────────────────────────────

    def get(self, name: str) -> dict[str, Any] | None:
        return self.db.get_object(KIND, name)

    def list(self) -> list[dict[str, Any]]:
        return self.db.list_objects(KIND)

    def create(self, name: str, options: dict[str, str] | None,
               labels: dict[str, str] | None) -> dict[str, Any]:
        """Make the volume `name` (validated by the caller, known not to exist)."""
        validate_options(name, options or {})
        final = self.root / name
        if final.exists():
            # A directory without a row (reconcile removes those at start): never reuse it.
            self._discard(final)
        staging = self.root / f".new-{name}-{secrets.token_hex(4)}"
        staging.mkdir(mode=0o701)
        (staging / "_data").mkdir(mode=0o755)
        if self.owner is not None:
            os.chown(staging / "_data", *self.owner)
        _fsync_dir(staging)
        doc = {
            "CreatedAt": _now(),
            "Driver": LOCAL_DRIVER,
            "Labels": labels or None,  # as the docker CLI's omitted empty map leaves it
            "Mountpoint": str(final / "_data"),
            "Name": name,
            "Options": dict(options) if options else None,
            "Scope": "local",
        }
        try:
            with self.db.transaction():
                self.db.put_object(KIND, name, doc)
                os.rename(staging, final)
            _fsync_dir(self.root)
        except BaseException:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
            elif self.get(name) is None:
                self._discard(final)  # renamed, but the row did not commit
            raise
        return doc

    def remove(self, name: str) -> None:
        """Delete the volume's row, then its directory (never what is mounted in it)."""
        doc = self.get(name)
        if doc is None:
            raise NotFound(f"get {name}: no such volume")
        directory = self.root / name
        self.unmount(doc)
        _check_unmounted(directory)
        self.db.delete_object(KIND, name)
        self._discard(directory)

    def reconcile(self) -> None:
        """Make rows and directories agree again after a crash (see the module doc)."""
        rows = {doc["Name"]: doc for doc in self.list()}
        for entry in sorted(os.listdir(self.root)):
            path = self.root / entry
            if entry.startswith((".new-", ".gone-")):
                self._discard(path)
                continue
            if entry not in rows:
                log.warning("volume directory %s has no record (an interrupted create or remove); removing it", path)
                self._discard(path)
                continue
            for leftover in path.glob(".stage-*"):
                self._discard(leftover)
        for name, doc in rows.items():
            data = Path(doc["Mountpoint"])
            if not data.is_dir():
                log.warning("volume %s lost its directory; recreating it empty", name)
                data.mkdir(parents=True, exist_ok=True)
                os.chmod(data.parent, 0o701)
                if self.owner is not None:
                    os.chown(data, *self.owner)

    def size(self, doc: dict[str, Any]) -> int:
        return tree_size(doc["Mountpoint"])

    # ── the driver's own mounts ───────────────────────────────────────────────────────

    def needs_mount(self, doc: dict[str, Any]) -> bool:
        return bool(doc.get("Options"))

    def mount(self, doc: dict[str, Any]) -> None:
        """Mount a volume made with options at its _data (once; idempotent)."""
        options = doc.get("Options") or {}
        target = doc["Mountpoint"]
        if not options or _is_mount(target):
            return
        argv = ["mount", "-t", options.get("type") or "none"]
        if options.get("o"):
            argv += ["-o", options["o"]]
        argv += [options.get("device") or "none", target]
        result = subprocess.run(argv, capture_output=True, text=True)
        if result.returncode != 0:
            reason = (result.stderr or result.stdout).strip().removeprefix("mount: ")
            raise InvalidParameter(f"error while mounting volume '{target}': failed to mount local volume: {reason}")

    def unmount(self, doc: dict[str, Any]) -> None:
        target = doc["Mountpoint"]
        if not doc.get("Options") or not _is_mount(target):
            return
        result = subprocess.run(["umount", target], capture_output=True, text=True)
        if result.returncode != 0 and _is_mount(target):
            # Busy (a shell with its cwd inside): detach; the kernel finishes later.
            subprocess.run(["umount", "-l", target], capture_output=True)

    # ── helpers ───────────────────────────────────────────────────────────────────────

    def _discard(self, path: Path) -> None:
        """Remove a volume directory that nothing refers to any more, unmounting first:
        deleting through a mount would delete someone else's files."""
        for mount in _mounts_under(path):
            subprocess.run(["umount", "-l", mount], capture_output=True)
        _check_unmounted(path)
        if not path.name.startswith(".gone-"):
            aside = self.root / f".gone-{path.name.lstrip('.')}-{secrets.token_hex(4)}"
            try:
                os.rename(path, aside)
            except FileNotFoundError:
                return
            path = aside
        shutil.rmtree(path, ignore_errors=True)


def validate_options(name: str, options: dict[str, str]) -> None:
    """The local driver's options: type, device and o, all three given (o optional)."""
    for key in options:
        if key not in OPTION_KEYS:
            raise InvalidParameter(f'create {name}: invalid option: "{key}"')
    if options and not options.get("device"):
        raise InvalidParameter(f'create {name}: missing required option: "device"')
    if options and not options.get("type"):
        raise InvalidParameter(f'create {name}: missing required option: "type"')


def _is_mount(path: str | Path) -> bool:
    # Not os.path.ismount: a bind mount from the same filesystem has the same st_dev as
    # its parent, and ismount misses it.
    return str(path) in _mount_points()


def _mounts_under(path: Path) -> list[str]:
    prefix = str(path).rstrip("/") + "/"
    found = [p for p in _mount_points() if p == str(path) or p.startswith(prefix)]
    return sorted(found, key=len, reverse=True)


def _mount_points() -> list[str]:
    try:
        with open("/proc/self/mounts") as f:
            return [_unescape(line.split()[1]) for line in f if line.strip()]
    except OSError:
        return []


def _unescape(field: str) -> str:
    """The kernel writes space, tab, newline and backslash in mount paths as octal."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def _check_unmounted(path: Path) -> None:
    if _mounts_under(path):
        raise DockyardError(f"{path} still has mounts under it; not deleting it")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    except OSError as e:
        if e.errno != errno.EINVAL:
            raise
    finally:
        os.close(fd)


def _now() -> str:
    # Docker shows the daemon's local time with its offset, `Z` for UTC, to the second.
    text = datetime.now().astimezone().isoformat(timespec="seconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text
