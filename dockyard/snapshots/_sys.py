# SPDX-License-Identifier: Apache-2.0
"""The few system calls the standard library lacks: mount, umount2, syncfs (via libc)."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from pathlib import Path

MS_RDONLY = 0x1
MNT_DETACH = 0x2


def mount(source: str, target: str | Path, fstype: str, flags: int = 0, data: str = "") -> None:
    if _libc().mount(source.encode(), os.fsencode(target), fstype.encode(), flags, data.encode()) != 0:
        _raise(target)


def umount2(target: str | Path, flags: int = 0) -> None:
    if _libc().umount2(os.fsencode(target), flags) != 0:
        _raise(target)


def syncfs(path: str | Path) -> None:
    """Flush the filesystem holding `path` (one call for a whole unpacked layer)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if _libc().syncfs(fd) != 0:
            os.sync()
    finally:
        os.close(fd)


def fsync_dir(path: str | Path) -> None:
    """Make a rename inside `path` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _raise(target: str | Path) -> None:
    err = ctypes.get_errno()
    raise OSError(err, os.strerror(err), str(target))


_LIBC: ctypes.CDLL | None = None


def _libc() -> ctypes.CDLL:
    global _LIBC
    if _LIBC is None:
        lib = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        lib.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
        lib.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
        lib.syncfs.argtypes = [ctypes.c_int]
        _LIBC = lib
    return _LIBC
