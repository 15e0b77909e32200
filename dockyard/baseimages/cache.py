# SPDX-License-Identifier: Apache-2.0
"""The machine-wide cache of bootstrapped base images.

Building python or mysql from Debian packages takes a minute or more; every daemon on the
machine (each test daemon has a data root of its own) loads the result from here instead.
One docker-archive per recipe, named `<recipe>-<key prefix>.tar`: a recipe whose key
changed simply misses, and storing the new archive removes the recipe's older ones.
Archives are written to a temporary name and renamed, so a reader never sees half of one.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dockyard.baseimages.recipes import Recipe
    from dockyard.images.service import ImageService


class MachineCache:
    def __init__(self, directory: Path | str | None):
        self.directory = Path(directory) if directory else None

    def path(self, recipe: Recipe) -> Path | None:
        if self.directory is None:
            return None
        return self.directory / f"{recipe.name}-{recipe.key[:16]}.tar"

    def has(self, recipe: Recipe) -> bool:
        path = self.path(recipe)
        return path is not None and path.is_file()

    def load(self, images: ImageService, recipe: Recipe) -> bool:
        """Load the recipe's cached image into `images`; False when there is none (or it is
        unreadable, which is then removed so the next bootstrap rebuilds it)."""
        from dockyard.errors import DockyardError

        path = self.path(recipe)
        if path is None or not path.is_file():
            return False
        try:
            with open(path, "rb") as f:
                images.load(f)
        except (OSError, DockyardError):
            path.unlink(missing_ok=True)
            return False
        return True

    def store(self, images: ImageService, recipe: Recipe) -> None:
        """Save the recipe's image (all its tags) as the cached archive."""
        path = self.path(recipe)
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{recipe.name}-", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                images.save(recipe.references, f)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
        for old in path.parent.glob(f"{recipe.name}-*.tar"):
            # "debian-*" also matches debian-slim's archives: only this recipe's key form.
            if old != path and re.fullmatch(rf"{re.escape(recipe.name)}-[0-9a-f]{{16}}\.tar", old.name):
                old.unlink(missing_ok=True)
