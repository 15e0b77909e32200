# SPDX-License-Identifier: Apache-2.0
"""A limit on what unpacking a tar may take from its file system.

A decompression bomb (a small layer, import or `cp` upload that expands to terabytes, or
to millions of empty files) must fail with a clear error instead of filling the disk
under the daemon and every container. The guard keeps a reserve free, in bytes and in
inodes: each entry's size is taken from a budget measured once with statvfs, and when
the budget runs out the file system is measured again (other work may have freed space)
before the unpack is refused.
"""

from __future__ import annotations

import os
from pathlib import Path

from dockyard.errors import InvalidParameter

RESERVE_BYTES = 1 << 30       # at most this much kept free...
RESERVE_FRACTION = 0.02       # ...or this share of the file system, if smaller
RESERVE_INODE_FRACTION = 0.02


class DiskGuard:
    def __init__(self, target: str | Path | int, what: str = "archive"):
        """`target`: a path or an open directory descriptor on the file system to guard."""
        self.target = target if isinstance(target, int) else str(target)
        self.what = what
        self._bytes, self._inodes = self._measure()

    def take(self, nbytes: int) -> None:
        """Account for one entry of `nbytes`; raises InvalidParameter once unpacking it
        would eat into the reserve."""
        self._bytes -= nbytes
        self._inodes -= 1
        if self._bytes < 0 or self._inodes < 0:
            self._bytes, self._inodes = self._measure()
            self._bytes -= nbytes
            self._inodes -= 1
            if self._bytes < 0 or self._inodes < 0:
                raise InvalidParameter(
                    f"refusing to unpack the {self.what}: it would leave less than the reserved free "
                    "space on its file system (a decompression bomb, or a full disk)")

    def _measure(self) -> tuple[int, int]:
        st = os.statvfs(self.target)
        reserve = min(RESERVE_BYTES, int(st.f_blocks * st.f_frsize * RESERVE_FRACTION))
        budget = st.f_bavail * st.f_frsize - reserve
        if st.f_files == 0:  # file systems without an inode count (e.g. btrfs): no inode limit
            inodes = 1 << 62
        else:
            inodes = st.f_favail - int(st.f_files * RESERVE_INODE_FRACTION)
        return budget, inodes
