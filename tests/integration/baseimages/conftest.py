# SPDX-License-Identifier: Apache-2.0
"""`base_image(name)`: an offline base image made in the session's daemon.

The first bootstrap on a machine builds from Debian packages (a minute or more per
image); later ones, in any daemon, load the machine-wide cache in about a second.
"""

from __future__ import annotations

import pytest

from dockyard.baseimages import recipes

BOOTSTRAP_TIMEOUT = 1200


@pytest.fixture(scope="session")
def base_image(daemon):
    made: dict[str, str] = {}

    def ensure(name: str) -> str:
        recipe = recipes.lookup(name)
        if recipe.name not in made:
            daemon.cli("image", "bootstrap", recipe.name, timeout=BOOTSTRAP_TIMEOUT)
            made[recipe.name] = recipe.primary
        return made[recipe.name]

    return ensure
