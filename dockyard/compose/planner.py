# SPDX-License-Identifier: Apache-2.0
"""The dependency graph of a project and the plan `up` carries out.

A service depends on the services in its `depends_on`, on the one whose network it
shares (`network_mode: service:x`), on those it takes volumes from (`volumes_from`) and
on its `links`. `dependency_order` gives a topological order (dependencies first) and
finds cycles; `levels` groups services that can be started in parallel.

`plan_service` compares what runs (containers with their labels) with what the project
asks for and decides per container: keep, start, recreate, create, or remove.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dockyard.compose.errors import ComposeError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

LABEL_PREFIX = "com.docker.compose."
PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
NUMBER_LABEL = "com.docker.compose.container-number"
ONEOFF_LABEL = "com.docker.compose.oneoff"
HASH_LABEL = "com.docker.compose.config-hash"


def dependencies(service: dict[str, Any]) -> list[str]:
    """The names of the services `service` needs before it (in a stable order)."""
    deps = list((service.get("depends_on") or {}).keys())
    mode = service.get("network_mode") or ""
    if mode.startswith("service:"):
        deps.append(mode[8:])
    for ref in service.get("volumes_from") or []:
        name = ref.split(":")[0]
        if not name.startswith("container"):
            deps.append(name)
    for link in service.get("links") or []:
        deps.append(link.split(":")[0])
    return list(dict.fromkeys(deps))


def dependency_order(services: dict[str, dict[str, Any]]) -> list[str]:
    """Service names, every one after its dependencies; raises ComposeError on a cycle."""
    order: list[str] = []
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = path[path.index(name):] + [name]
            raise ComposeError(f"dependency cycle detected: {' -> '.join(cycle)}")
        state[name] = 1
        for dep in dependencies(services[name]):
            if dep in services:
                visit(dep, path + [name])
        state[name] = 2
        order.append(name)

    for name in sorted(services):
        visit(name, [])
    return order


def levels(services: dict[str, dict[str, Any]], names: Iterable[str] | None = None) -> list[list[str]]:
    """`names` (default: all) in groups: each group depends only on earlier groups."""
    wanted = set(services if names is None else names)
    depth: dict[str, int] = {}
    for name in dependency_order(services):
        deps = [d for d in dependencies(services[name]) if d in services]
        depth[name] = 1 + max((depth[d] for d in deps), default=-1)
    groups: dict[int, list[str]] = {}
    for name in sorted(wanted, key=lambda n: (depth[n], n)):
        groups.setdefault(depth[name], []).append(name)
    return [groups[k] for k in sorted(groups)]


def with_dependencies(services: dict[str, dict[str, Any]], selected: Iterable[str]) -> set[str]:
    """`selected` and everything they transitively depend on."""
    out: set[str] = set()
    todo = list(selected)
    while todo:
        name = todo.pop()
        if name in out:
            continue
        if name not in services:
            raise ComposeError(f"no such service: {name}")
        out.add(name)
        todo.extend(d for d in dependencies(services[name]) if d in services)
    return out


def dependents(services: dict[str, dict[str, Any]], name: str) -> list[str]:
    """Services that depend on `name` directly."""
    return [n for n, s in services.items() if name in dependencies(s)]


# --- what `up` does for one service --------------------------------------------------------


@dataclass
class ServicePlan:
    """Per-container decisions for one service. `keep` may still need a start."""

    service: str
    keep: list[dict[str, Any]] = field(default_factory=list)
    recreate: list[dict[str, Any]] = field(default_factory=list)
    create: list[int] = field(default_factory=list)
    remove: list[dict[str, Any]] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.recreate or self.create or self.remove)


def container_number(container: dict[str, Any]) -> int:
    try:
        return int((container.get("Labels") or {}).get(NUMBER_LABEL, "0"))
    except ValueError:
        return 0


def plan_service(
    service: str,
    expected_hash: str,
    scale: int,
    containers: list[dict[str, Any]],
    *,
    force_recreate: bool = False,
    no_recreate: bool = False,
    image_changed: bool = False,
) -> ServicePlan:
    """Decide for `containers` (the service's, from a list call) against `scale` replicas.

    The lowest numbers are kept; extra containers (beyond `scale`) are removed; numbers
    missing below the highest kept are reused, as Compose fills gaps.
    """
    plan = ServicePlan(service)
    ordered = sorted(containers, key=container_number)
    kept, extra = ordered[:scale], ordered[scale:]
    plan.remove = extra
    for container in kept:
        labels = container.get("Labels") or {}
        stale = labels.get(HASH_LABEL) != expected_hash or image_changed
        if (force_recreate or stale) and not no_recreate:
            plan.recreate.append(container)
        else:
            plan.keep.append(container)
    used = {container_number(c) for c in kept}
    number = 1
    while len(plan.create) + len(kept) < scale:
        if number not in used:
            plan.create.append(number)
        number += 1
    return plan
