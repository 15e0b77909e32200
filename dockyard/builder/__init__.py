# SPDX-License-Identifier: Apache-2.0
"""The builder: Dockerfile parser and word expansion, instruction dispatch (the state is
a Config dict), build context and `.dockerignore`, step cache. See `service` for the
entry points and `build` for how one build runs."""

from dockyard.builder.build import BuildError, BuildOptions
from dockyard.builder.service import BuildService

__all__ = ["BuildError", "BuildOptions", "BuildService"]
