# SPDX-License-Identifier: Apache-2.0
"""The builder: Dockerfile parser and word expansion, instruction dispatch (the state is
a Config dict), build context and `.dockerignore`, step cache. See `service` for the
entry points and `build` for how one build runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dockyard.builder.build import BuildError, BuildOptions
    from dockyard.builder.service import BuildService

__all__ = ["BuildError", "BuildOptions", "BuildService"]


def __getattr__(name: str) -> Any:
    # Lazily: the CLI imports the stdlib-only modules of this package (dockerignore,
    # buildsecrets) and must not pay for the daemon side (asyncio and the rest).
    if name in ("BuildError", "BuildOptions"):
        from dockyard.builder import build

        return getattr(build, name)
    if name == "BuildService":
        from dockyard.builder.service import BuildService

        return BuildService
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
