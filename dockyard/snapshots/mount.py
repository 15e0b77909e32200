# SPDX-License-Identifier: Apache-2.0
"""Container root filesystems: a writable layer per container and its overlay mount.

Layout of a container's writable layer (the daemon chooses `container_dir`)::

    <container_dir>/diff/     overlay upperdir: everything the container changed
    <container_dir>/work/     overlay workdir (kernel scratch space)
    <container_dir>/empty/    a read-only lowerdir for images with no layers at all
    <container_dir>/lowers/   short names for the layers when their paths overflow the
                              kernel's one-page limit on mount options

`mount_rootfs` stacks the image's unpacked layers (top-most first, as overlay wants) under
the writable layer at `target`; `unmount` undoes it. Both are idempotent, so the daemon can
call them again after a restart without tracking what it did before.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import time
from pathlib import Path

from dockyard.errors import InvalidParameter
from dockyard.snapshots import _sys

# The kernel copies mount options into one page; longer strings fail with EINVAL.
_MAX_OPTIONS = 4095


def prepare_rw(container_dir: Path, owner: tuple[int, int] | None = None) -> None:
    """Create the container's writable layer (`diff/` and `work/`) if it is missing;
    `owner` (the host IDs of a remapped root) gets what is made, as in Docker's overlay2
    driver: the upper directory is the container's `/`."""
    container_dir = Path(container_dir)
    container_dir.mkdir(parents=True, exist_ok=True)
    for name, mode in (("diff", 0o755), ("work", 0o700)):
        path = container_dir / name
        try:
            path.mkdir(mode=mode)
        except FileExistsError:
            continue
        if owner is not None:
            os.chown(path, *owner)


def mount_rootfs(lowerdirs: list[Path], container_dir: Path, target: Path,
                 owner: tuple[int, int] | None = None) -> None:
    """Mount the overlay of `lowerdirs` (top-most first) and the rw layer at `target`.

    Does nothing if `target` is already a mount point (e.g. after a daemon restart).
    `owner`: see prepare_rw.
    """
    container_dir, target = Path(container_dir), Path(target)
    prepare_rw(container_dir, owner)
    target.mkdir(parents=True, exist_ok=True)
    if os.path.ismount(target):
        return
    lowers = [str(p) for p in lowerdirs]
    if not lowers:
        # overlay needs at least one lowerdir; an image with no layers gets an empty one.
        empty = container_dir / "empty"
        empty.mkdir(mode=0o755, exist_ok=True)
        os.chmod(empty, 0o555)
        lowers = [str(empty)]
    for p in [*lowers, str(container_dir)]:
        if "," in p or ":" in p:
            raise InvalidParameter(f"overlay paths may not contain ',' or ':': {p}")
    upper, work = container_dir / "diff", container_dir / "work"
    options = f"lowerdir={':'.join(lowers)},upperdir={upper},workdir={work}"
    if len(options) + len(_PORTABLE) <= _MAX_OPTIONS:
        _mount_overlay(options, target)
        return
    # Too long for one page: point short symlinks ("0", "1", …) at the layers and let a
    # child process, whose working directory we may change, mount with those names.
    links = container_dir / "lowers"
    shutil.rmtree(links, ignore_errors=True)
    links.mkdir()
    for i, lower in enumerate(lowers):
        os.symlink(lower, links / str(i))
    relative = [str(i) for i in range(len(lowers))]
    options = f"lowerdir={':'.join(relative)},upperdir={upper},workdir={work}{_PORTABLE}"
    if len(options) > _MAX_OPTIONS:
        raise InvalidParameter(f"too many layers to mount ({len(lowers)})")
    result = subprocess.run(
        ["mount", "-t", "overlay", "overlay", "-o", options, str(target)],
        cwd=links, capture_output=True, text=True,
    )
    if result.returncode != 0:
        raise OSError(errno.EINVAL, f"overlay mount failed: {result.stderr.strip()}", str(target))


def unmount(target: Path) -> None:
    """Unmount `target`; not mounted or missing is fine, busy falls back to a lazy unmount."""
    for attempt in range(5):
        try:
            _sys.umount2(target)
        except OSError as e:
            if e.errno in (errno.EINVAL, errno.ENOENT):
                return  # not (or no longer) a mount point
            if e.errno != errno.EBUSY:
                raise
            if attempt < 4:
                time.sleep(0.02 * (attempt + 1))
                continue
            # Something (a lingering exec, a shell with its cwd inside) still holds it:
            # detach now, the kernel finishes when the last user goes away.
            _sys.umount2(target, _sys.MNT_DETACH)
            return
        else:
            if not os.path.ismount(target):
                return


def remove_rw(container_dir: Path) -> None:
    """Delete the container's writable layer; the rest of `container_dir` is left alone."""
    container_dir = Path(container_dir)
    for name in ("diff", "work", "empty", "lowers"):
        path = container_dir / name
        if path.is_symlink() or not path.exists():
            continue
        shutil.rmtree(path)


# index=off: a layer shared by many containers must not be tied to one upper directory
# through the overlay index (the default on some kernels). redirect_dir and metacopy off:
# the upper directory must hold plain files and directories, because diff, commit and
# export read it as a layer (with those features it would hold pointers into the lowers).
_PORTABLE = ",index=off,redirect_dir=off,metacopy=off"


def _mount_overlay(options: str, target: Path) -> None:
    try:
        _sys.mount("overlay", target, "overlay", 0, options + _PORTABLE)
    except OSError as e:
        if e.errno != errno.EINVAL:
            raise
        _sys.mount("overlay", target, "overlay", 0, options)
