# SPDX-License-Identifier: Apache-2.0
"""Compose: multi-container projects described by compose files, run over the Engine API.

The pipeline, one module each:

    loader      find and read the files (YAML 1.2 core), .env and --env-file, interpolation
                (interpolate.py), validation against the compose-spec schema (validate.py),
                include, extends, merging of -f files (merge.py), profiles
    model       the normalised, interpolated project (`dockyard compose config`): long
                syntax everywhere, absolute paths, resource names
    confighash  the per-service hash stored in `com.docker.compose.config-hash`
    planner     the dependency graph: order, cycles, what `up` must create/recreate/start
    convert     a service → a container create body, labelled exactly as Docker Compose
    executor    the verbs (up, down, ps, logs, ...) over `dockyard.client` only, so it
                drives a real Docker engine just as well as dockyard's daemon

Nothing here talks to the daemon except `executor`; everything before it is pure and
unit-tested.
"""
