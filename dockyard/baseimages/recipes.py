# SPDX-License-Identifier: Apache-2.0
"""Which official-image names dockyard can make offline, and how each is made.

Three kinds of recipe:
- `host`: busybox and hello-world, assembled from the host in a second (catalog.py);
- `rootfs`: debian:bookworm and debian:bookworm-slim, bootstrapped with mmdebstrap (rootfs.py);
- `dockerfile`: the seeds' stand-ins (python, node, nginx, httpd, mysql, postgres, redis),
  each a directory under `recipes/` holding a Dockerfile built FROM a debian image, a
  `tags` file (the tags of that repository it answers to, primary first), optionally an
  `aliases` file (other `repo:tag` names it answers to, e.g. `mariadb:10`) and a README
  listing how it differs from the official image.

A recipe's `key` changes whenever what it would produce changes (its files, the recipe it
builds on, the bootstrap settings): the machine-wide cache (cache.py) is keyed by it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from dockyard.baseimages import catalog, rootfs
from dockyard.distribution import reference

RECIPES_DIR = Path(__file__).parent / "recipes"
# Files every Dockerfile recipe's context holds under `_shared/` (shell helpers the
# entrypoints have in common).
SHARED = "_shared"
# Bumped when the way images are assembled from recipes changes.
FORMAT = "1"


@dataclass(frozen=True)
class Recipe:
    name: str                      # what `image bootstrap` calls it: "python", "debian-slim"
    repository: str                # familiar repository: "python", "debian"
    tags: tuple[str, ...]          # tags of `repository`, primary first
    kind: str                      # "host" | "rootfs" | "dockerfile"
    aliases: tuple[str, ...] = ()  # further familiar references ("mariadb:10")
    directory: Path | None = None  # dockerfile recipes
    base: str = ""                 # the reference a dockerfile recipe builds FROM
    slim: bool = False             # rootfs recipes
    files: tuple[tuple[str, bytes], ...] = field(default=(), repr=False)

    @property
    def primary(self) -> str:
        return f"{self.repository}:{self.tags[0]}"

    @property
    def references(self) -> list[str]:
        """Every familiar `repo:tag` this recipe's image is tagged with."""
        return [f"{self.repository}:{tag}" for tag in self.tags] + list(self.aliases)

    @property
    def cheap(self) -> bool:
        """Made in about a second, from the host alone: no need to ask before making it."""
        return self.kind == "host"

    @property
    def key(self) -> str:
        return _key(self)


def all_recipes() -> list[Recipe]:
    """Every recipe, bases before the images built on them."""
    return list(_catalog().values())


def find(name: str) -> Recipe | None:
    """The recipe whose image `name` (a reference or a recipe name) is, if any."""
    recipes = _catalog()
    if name in recipes:
        return recipes[name]
    try:
        ref = reference.parse(name).with_default_tag()
    except Exception:  # not a reference at all: no recipe either
        return None
    if ref.domain != reference.DEFAULT_DOMAIN or ref.digest:
        return None
    familiar = reference.familiar(ref)
    for recipe in recipes.values():
        if familiar in recipe.references:
            return recipe
    return None


def lookup(name: str) -> Recipe:
    """Like find(), but a missing recipe is an error listing what exists."""
    from dockyard.errors import NotFound

    recipe = find(name)
    if recipe is None:
        raise NotFound(f"no offline base image {name!r}; available: {', '.join(names())}")
    return recipe


def names() -> list[str]:
    return list(_catalog())


def dependencies(recipe: Recipe) -> list[Recipe]:
    """The recipes `recipe` builds on, nearest last (each must exist before it is built)."""
    chain: list[Recipe] = []
    current = recipe
    while current.kind == "dockerfile":
        base = find(current.base)
        if base is None:
            break  # FROM something no recipe makes: the builder resolves it as usual
        chain.insert(0, base)
        current = base
    return chain


@cache
def _catalog() -> dict[str, Recipe]:
    recipes: dict[str, Recipe] = {}
    for name in catalog.names():
        recipes[name] = Recipe(name, name, ("latest",), "host")
    for slim in (False, True):
        name = "debian-slim" if slim else "debian"
        recipes[name] = Recipe(name, "debian", tuple(rootfs.tags(slim)), "rootfs", slim=slim)
    if RECIPES_DIR.is_dir():
        for directory in sorted(RECIPES_DIR.iterdir()):
            if (directory / "Dockerfile").is_file():
                recipes[directory.name] = _dockerfile_recipe(directory)
    return recipes


def _dockerfile_recipe(directory: Path) -> Recipe:
    dockerfile = (directory / "Dockerfile").read_text()
    match = re.search(r"^\s*FROM\s+(?:--\S+\s+)*(\S+)", dockerfile, re.M | re.I)
    tags = _lines(directory / "tags") or ["latest"]
    files = tuple(sorted(_files(directory) + _files(RECIPES_DIR / SHARED, SHARED)))
    return Recipe(directory.name, directory.name, tuple(tags), "dockerfile",
                  aliases=tuple(_lines(directory / "aliases")), directory=directory,
                  base=match.group(1) if match else "", files=files)


def _files(directory: Path, prefix: str = "") -> list[tuple[str, bytes]]:
    """(context path, content) of every file below `directory`."""
    if not directory.is_dir():
        return []
    return [(str(Path(prefix) / p.relative_to(directory)), p.read_bytes())
            for p in directory.rglob("*") if p.is_file() and "__pycache__" not in p.parts]


def _lines(path: Path) -> list[str]:
    try:
        return [line.strip() for line in path.read_text().splitlines()
                if line.strip() and not line.lstrip().startswith("#")]
    except OSError:
        return []


@cache
def _key(recipe: Recipe) -> str:
    digest = hashlib.sha256(f"{FORMAT}\0{recipe.name}\0{recipe.kind}\0".encode())
    if recipe.kind == "rootfs":
        digest.update(repr(rootfs.recipe_inputs(recipe.slim)).encode())
    for path, data in recipe.files:
        digest.update(f"{path}\0{len(data)}\0".encode() + data)
    base = find(recipe.base) if recipe.base else None
    if base is not None:
        digest.update(base.key.encode())
    return digest.hexdigest()
