# SPDX-License-Identifier: Apache-2.0
"""How many bytes a directory tree holds (apparent file sizes, links not followed), for
`ps -s`, `system df`, prune reports and volume usage."""

from __future__ import annotations

import os
from pathlib import Path


def tree_size(path: Path | str) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass  # removed while we walked
    return total
