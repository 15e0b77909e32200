# SPDX-License-Identifier: Apache-2.0
"""`build --squash`: the layers the final stage added become one, as Docker's classic
builder squashes (moby daemon/images/image_squash.go).

The new image keeps the base image's layers (the final stage's FROM; none for scratch)
and gets one more: the difference between the base and the built image. Its config is
the built image's, its history the built image's with every entry after the base's
marked `empty_layer`, plus one entry carrying the new layer, commented
`merge <built> to <base>` (or `create new from <built>` without a base). It has no
parent; the built image stays as it was (untagged), as Docker leaves it.

The difference is made from the unpacked layers: the final stage's layer directories
(overlay form: whiteouts are 0/0 character devices, an opaque directory has the
`trusted.overlay.opaque` xattr) are merged bottom to top into one upper directory, which
is then written against the base's layers the way a commit writes a container's rw
layer (`rwlayer.write_layer`). As in Docker's layer diff, a deletion is kept only for
what the base has, and a directory is opaque only where it hides one of the base's.
Files are hard-linked from the layer store into the merge (same filesystem), never
modified.
"""

from __future__ import annotations

import copy
import errno
import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from dockyard.daemon import rwlayer
from dockyard.daemon.treetar import OPAQUE_XATTR
from dockyard.images.platform import now_rfc3339
from dockyard.snapshots.pipe import pipe_reader

if TYPE_CHECKING:
    from dockyard.images import ImageService

_OVERLAY_XATTRS = "trusted.overlay."


def squash(images: ImageService, image_id: str, base_id: str) -> str:
    """The squashed image of `image_id` over `base_id` ("" for scratch); blocking."""
    built = images.config_of(image_id)
    base_cfg = images.config_of(base_id) if base_id else {}
    base_layers = len((base_cfg.get("rootfs") or {}).get("diff_ids") or [])
    base_history = len(base_cfg.get("history") or [])
    lowers = images.lowerdirs(image_id)           # top-most first
    added = lowers[:len(lowers) - base_layers]
    base_lowers = lowers[len(lowers) - base_layers:]

    now = now_rfc3339()
    cfg = copy.deepcopy(built)
    cfg.pop("rootfs", None)
    history = cfg.get("history") or []
    for index, entry in enumerate(history):
        if index >= base_history:
            entry["empty_layer"] = True
    comment = f"merge {image_id} to {base_id}" if base_id else f"create new from {image_id}"
    cfg["history"] = [*history, {"created": now, "comment": comment}]
    cfg["created"] = now

    work = Path(tempfile.mkdtemp(dir=images.layers.tmp, prefix="squash-"))
    try:
        upper = work / "upper"
        upper.mkdir()
        base = rwlayer.LowerView(base_lowers)
        for layer in reversed(added):
            _merge_dir(str(layer), str(upper), "", base)
        idmap = images.daemon_config.id_map
        with pipe_reader(lambda out: rwlayer.write_layer(upper, base_lowers, out, idmap)) as layer_tar:
            return images.create_from_layers(cfg, [layer_tar], [], base_image=base_id or None)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _merge_dir(src: str, dst: str, rel_dir: str, base: rwlayer.LowerView) -> None:
    """Lay the layer directory `src` over the merged upper directory `dst` (which is
    `rel_dir` in the image)."""
    with os.scandir(src) as it:
        names = sorted(entry.name for entry in it)
    for name in names:
        source, target = os.path.join(src, name), os.path.join(dst, name)
        rel = f"{rel_dir}/{name}" if rel_dir else name
        st = os.lstat(source)
        existing = _lstat(target)
        if stat.S_ISDIR(st.st_mode):
            opaque = _getxattr(source, OPAQUE_XATTR) == b"y"
            if existing is not None and (opaque or not stat.S_ISDIR(existing.st_mode)):
                _remove(target, existing)
                # What was there (deleted, or not a directory) hid everything below in
                # the base: the new directory must hide it too.
                opaque = True
                existing = None
            if existing is None:
                os.mkdir(target, 0o700)
            if opaque and base.dirs(rel):
                os.setxattr(target, OPAQUE_XATTR, b"y")
            _merge_dir(source, target, rel, base)
            _copy_metadata(source, target, st)
            continue
        if existing is not None:
            _remove(target, existing)
        if _is_whiteout(st) and base.lstat(rel) is None:
            continue  # deletes what only the squashed layers had: nothing to record
        _place(source, target, st)


def _place(source: str, target: str, st: os.stat_result) -> None:
    """A non-directory entry (whiteouts included), hard-linked when it can be."""
    try:
        os.link(source, target, follow_symlinks=False)
        return
    except OSError as e:
        if e.errno not in (errno.EXDEV, errno.EMLINK, errno.EPERM):
            raise
    mode = st.st_mode
    if stat.S_ISREG(mode):
        shutil.copyfile(source, target, follow_symlinks=False)
    elif stat.S_ISLNK(mode):
        os.symlink(os.readlink(source), target)
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode):
        os.mknod(target, mode, st.st_rdev)
    else:
        return  # a socket: no layer carries one
    _copy_metadata(source, target, st)


def _copy_metadata(source: str, target: str, st: os.stat_result) -> None:
    for key in _listxattr(source):
        if not key.startswith(_OVERLAY_XATTRS):
            value = _getxattr(source, key)
            if value is not None:
                os.setxattr(target, key, value, follow_symlinks=False)
    os.chown(target, st.st_uid, st.st_gid, follow_symlinks=False)
    if not stat.S_ISLNK(st.st_mode):
        os.chmod(target, stat.S_IMODE(st.st_mode))
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)


def _remove(path: str, st: os.stat_result) -> None:
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def _is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _lstat(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def _listxattr(path: str) -> list[str]:
    try:
        return os.listxattr(path, follow_symlinks=False)
    except OSError:
        return []


def _getxattr(path: str, key: str) -> bytes | None:
    try:
        return os.getxattr(path, key, follow_symlinks=False)
    except OSError:
        return None
