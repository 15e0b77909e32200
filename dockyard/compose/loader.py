# SPDX-License-Identifier: Apache-2.0
"""Loading a compose project: files → one normalised, interpolated, validated model.

    find files (compose.yaml ... upwards from the working directory, plus *.override.*)
      → env: the process environment over `.env` in the project directory (or --env-file)
      → per file: YAML 1.2 → interpolate → schema → include → canonical → extends
      → merge the files in order → project name → profiles → defaults and checks

Every error (YAML with line and column, schema with the path, a missing `${V:?}`, an
unknown service or network, a dependency cycle) is raised as ComposeError before the
caller creates anything.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from dockyard.compose.errors import ComposeError
from dockyard.compose.interpolate import interpolate_tree
from dockyard.compose.merge import merge_models, merge_service
from dockyard.compose.model import canonical_resources, canonical_service
from dockyard.compose.validate import validate
from dockyard.compose.yamlio import load_yaml

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
OVERRIDE_FILES = (
    "compose.override.yaml",
    "compose.override.yml",
    "docker-compose.override.yml",
    "docker-compose.override.yaml",
)


@dataclass
class Options:
    """What the command line says about where and how to load (compose's global flags)."""

    files: list[str] = field(default_factory=list)
    project_name: str | None = None
    project_directory: str | None = None
    env_files: list[str] = field(default_factory=list)
    profiles: list[str] = field(default_factory=list)
    environ: Mapping[str, str] | None = None
    cwd: str | None = None
    warn: Callable[[str], None] | None = None


@dataclass
class Project:
    name: str
    working_dir: str
    config_files: list[str]
    services: dict[str, dict[str, Any]]
    networks: dict[str, dict[str, Any]]
    volumes: dict[str, dict[str, Any]]
    secrets: dict[str, dict[str, Any]]
    configs: dict[str, dict[str, Any]]
    environment: dict[str, str]
    env_files: list[str] = field(default_factory=list)
    disabled: dict[str, dict[str, Any]] = field(default_factory=dict)
    profiles: list[str] = field(default_factory=list)

    def service(self, name: str) -> dict[str, Any]:
        try:
            return self.services[name]
        except KeyError:
            if name in self.disabled:
                raise ComposeError(f"service {name!r} is disabled by its profiles") from None
            raise ComposeError(f"no such service: {name}") from None

    def to_dict(self) -> dict[str, Any]:
        """The model as `config` prints it."""
        out: dict[str, Any] = {"name": self.name, "services": self.services}
        for key in ("networks", "volumes", "secrets", "configs"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        return out


def find_files(cwd: str) -> list[str]:
    """The default compose file in `cwd` or the nearest parent, and its override file."""
    directory = os.path.abspath(cwd)
    while True:
        for name in DEFAULT_FILES:
            path = os.path.join(directory, name)
            if os.path.isfile(path):
                found = [path]
                for override in OVERRIDE_FILES:
                    candidate = os.path.join(directory, override)
                    if os.path.isfile(candidate):
                        found.append(candidate)
                        break
                return found
        parent = os.path.dirname(directory)
        if parent == directory:
            raise ComposeError(
                "no configuration file provided: not found", status=14
            )
        directory = parent


def load_project(options: Options, enable: list[str] | None = None) -> Project:
    """The project the options describe; `enable` are services named on the command line,
    which are enabled whatever their profiles (and so are their dependencies)."""
    environ = dict(os.environ if options.environ is None else options.environ)
    cwd = options.cwd or os.getcwd()
    files = list(options.files)
    if not files and environ.get("COMPOSE_FILE"):
        sep = environ.get("COMPOSE_PATH_SEPARATOR", os.pathsep)
        files = [f for f in environ["COMPOSE_FILE"].split(sep) if f]
    stdin_text = None
    if files == ["-"]:
        import sys

        stdin_text = sys.stdin.read()
        files = [os.path.join(cwd, "-")]
    elif not files:
        files = find_files(cwd)
    files = [f if f.endswith("/-") else os.path.abspath(os.path.join(cwd, f)) for f in files]
    project_dir = os.path.abspath(os.path.join(cwd, options.project_directory)) if options.project_directory else os.path.dirname(files[0])

    env_files = [os.path.abspath(os.path.join(cwd, f)) for f in options.env_files]
    if not env_files and os.path.isfile(os.path.join(project_dir, ".env")):
        env_files = [os.path.join(project_dir, ".env")]
    env = _environment(env_files, environ)

    warn = options.warn
    model: dict[str, Any] = {}
    for path in files:
        text = stdin_text if stdin_text is not None else _read(path)
        doc = _load_document(text, path, env, project_dir, warn, seen=())
        model = merge_models(model, doc) if model else doc

    name = _project_name(options.project_name, env, model.get("name"), project_dir)
    env.setdefault("COMPOSE_PROJECT_NAME", name)
    services: dict[str, dict[str, Any]] = model.get("services") or {}
    for svc_name, svc in services.items():
        _finish_service(svc_name, svc, env)

    profiles = list(options.profiles)
    if not profiles and env.get("COMPOSE_PROFILES"):
        profiles = [p for p in env["COMPOSE_PROFILES"].split(",") if p]
    enabled, disabled = _apply_profiles(services, profiles, enable or [])

    project = Project(
        name=name,
        working_dir=project_dir,
        config_files=files,
        services=dict(sorted(enabled.items())),
        networks=model.get("networks") or {},
        volumes=model.get("volumes") or {},
        secrets=model.get("secrets") or {},
        configs=model.get("configs") or {},
        environment=env,
        env_files=env_files,
        disabled=disabled,
        profiles=profiles,
    )
    _finish_resources(project)
    _check(project)
    return project


# --- one file ---------------------------------------------------------------------------


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        raise ComposeError(f"open {path}: no such file or directory", status=14) from None
    except OSError as exc:
        raise ComposeError(f"open {path}: {exc.strerror}") from None


def _load_document(
    text: str,
    path: str,
    env: Mapping[str, str],
    base_dir: str,
    warn: Callable[[str], None] | None,
    seen: tuple[str, ...],
) -> dict[str, Any]:
    raw = load_yaml(text, path)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ComposeError(f"{path}: top-level object must be a mapping")
    raw = interpolate_tree(raw, env, warn=warn)
    validate(raw, path)
    raw.pop("version", None)  # accepted and ignored, as by Compose v2
    doc: dict[str, Any] = {}
    if raw.get("name") is not None:
        doc["name"] = str(raw["name"])
    doc["services"] = {
        n: canonical_service(n, s or {}, base_dir) for n, s in (raw.get("services") or {}).items()
    }
    for kind in ("networks", "volumes", "secrets", "configs"):
        doc[kind] = canonical_resources(kind, raw.get(kind), base_dir)
    for svc_name in list(doc["services"]):
        doc["services"][svc_name] = _resolve_extends(
            svc_name, doc["services"], path, env, base_dir, warn, (f"{path}:{svc_name}",)
        )
    for entry in raw.get("include") or []:
        _include(doc, entry, path, env, base_dir, warn, seen + (path,))
    return doc


def _resolve_extends(
    name: str,
    services: dict[str, dict[str, Any]],
    path: str,
    env: Mapping[str, str],
    base_dir: str,
    warn: Callable[[str], None] | None,
    chain: tuple[str, ...],
) -> dict[str, Any]:
    svc = services[name]
    ext = svc.get("extends")
    if not ext:
        return svc
    target = ext["service"]
    if "file" in ext:
        other = os.path.abspath(os.path.join(base_dir, ext["file"]))
        other_dir = os.path.dirname(other)
        raw = load_yaml(_read(other), other)
        raw = interpolate_tree(raw or {}, env, warn=warn)
        validate(raw, other)
        others = {
            n: canonical_service(n, s or {}, other_dir) for n, s in (raw.get("services") or {}).items()
        }
        where, pool, pool_dir = other, others, other_dir
    else:
        where, pool, pool_dir = path, services, base_dir
    if target not in pool:
        raise ComposeError(f"cannot extend service {name!r} in {path}: service {target!r} not found in {where}")
    key = f"{where}:{target}"
    if key in chain:
        raise ComposeError(f"circular reference with extends: {' -> '.join(chain + (key,))}")
    base = _resolve_extends(target, pool, where, env, pool_dir, warn, chain + (key,))
    base = {k: v for k, v in base.items() if k != "extends"}
    own = {k: v for k, v in svc.items() if k != "extends"}
    return merge_service(base, own)


def _include(
    doc: dict[str, Any],
    entry: Any,
    path: str,
    env: Mapping[str, str],
    base_dir: str,
    warn: Callable[[str], None] | None,
    seen: tuple[str, ...],
) -> None:
    spec = {"path": entry} if isinstance(entry, str) else dict(entry)
    paths = spec["path"] if isinstance(spec["path"], list) else [spec["path"]]
    paths = [os.path.abspath(os.path.join(base_dir, p)) for p in paths]
    inc_dir = os.path.abspath(os.path.join(base_dir, spec["project_directory"])) if spec.get("project_directory") else os.path.dirname(paths[0])
    inc_env = dict(env)
    env_files = spec.get("env_file")
    env_files = [env_files] if isinstance(env_files, str) else list(env_files or [])
    if not env_files and os.path.isfile(os.path.join(inc_dir, ".env")):
        env_files = [os.path.join(inc_dir, ".env")]
    for f in env_files:
        from dockyard.compose.dotenv import read_dotenv

        for k, v in read_dotenv(os.path.join(base_dir, f), env).items():
            if v is not None:
                inc_env.setdefault(k, v)
    included: dict[str, Any] = {}
    for p in paths:
        if p in seen:
            raise ComposeError(f"include cycle: {' -> '.join(seen + (p,))}")
        part = _load_document(_read(p), p, inc_env, inc_dir, warn, seen)
        included = merge_models(included, part) if included else part
    for kind in ("services", "networks", "volumes", "secrets", "configs"):
        for key, value in (included.get(kind) or {}).items():
            if key in doc[kind] and doc[kind][key] != value:
                raise ComposeError(f"{kind[:-1]} {key!r} from included file {paths[0]} conflicts with one defined in {path}")
            doc[kind][key] = value


def _environment(env_files: list[str], environ: Mapping[str, str]) -> dict[str, str]:
    from dockyard.compose.dotenv import read_dotenv

    env: dict[str, str] = {}
    for path in env_files:
        for k, v in read_dotenv(path, environ).items():
            if v is not None:
                env[k] = v
    env.update(environ)  # the shell's variables win over .env
    return env


# --- project-wide steps -------------------------------------------------------------------


_NAME_OK = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def normalize_project_name(name: str) -> str:
    """Compose's rule for names taken from a directory: lowercase, only [a-z0-9_-],
    starting with a letter or digit."""
    lowered = re.sub(r"[^a-z0-9_-]", "", name.lower())
    return lowered.lstrip("_-")


def _project_name(flag: str | None, env: Mapping[str, str], top: str | None, project_dir: str) -> str:
    for explicit in (flag, env.get("COMPOSE_PROJECT_NAME"), top):
        if explicit:
            if not _NAME_OK.match(explicit):
                raise ComposeError(
                    f"invalid project name {explicit!r}: must consist only of lowercase "
                    "alphanumeric characters, hyphens, and underscores as well as start "
                    "with a letter or number"
                )
            return explicit
    name = normalize_project_name(os.path.basename(project_dir.rstrip("/")))
    if not name:
        raise ComposeError(
            f"project name must not be empty: the directory {project_dir!r} gives none; use -p"
        )
    return name


def _finish_service(name: str, svc: dict[str, Any], env: Mapping[str, str]) -> None:
    svc.pop("extends", None)
    # `environment: {X: }` (no value) takes X from the shell, or is left out.
    if "environment" in svc:
        resolved = {}
        for key, value in svc["environment"].items():
            if value is None:
                value = env.get(key)
            if value is not None:
                resolved[key] = value
            else:
                resolved[key] = None
        svc["environment"] = resolved
    if "network_mode" not in svc and "networks" not in svc:
        svc["networks"] = {"default": None}
    if "scale" in svc and isinstance((svc.get("deploy") or {}).get("replicas"), int):
        if svc["scale"] != svc["deploy"]["replicas"]:
            raise ComposeError(f"services.{name}: can't set distinct values on 'scale' and 'deploy.replicas'")


def _apply_profiles(
    services: dict[str, dict[str, Any]], profiles: list[str], explicit: list[str]
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    active = set(profiles)
    enabled = {
        n: s
        for n, s in services.items()
        if not s.get("profiles") or "*" in active or active & set(s["profiles"])
    }
    # Services named on the command line, and what they depend on, run regardless.
    todo = [n for n in explicit if n in services]
    while todo:
        n = todo.pop()
        if n not in enabled:
            enabled[n] = services[n]
        for dep, spec in (services[n].get("depends_on") or {}).items():
            if dep in services and dep not in enabled and spec.get("required", True):
                todo.append(dep)
    disabled = {n: s for n, s in services.items() if n not in enabled}
    return enabled, disabled


def _finish_resources(project: Project) -> None:
    uses_default = any("default" in (s.get("networks") or {}) for s in project.services.values())
    if uses_default and "default" not in project.networks:
        project.networks["default"] = {}
    for kind in ("networks", "volumes", "secrets", "configs"):
        for key, spec in getattr(project, kind).items():
            if "name" not in spec:
                spec["name"] = key if spec.get("external") else f"{project.name}_{key}"
    if "default" in project.networks:
        # Compose puts the default network first in its listing; keep ours stable.
        project.networks = {"default": project.networks.pop("default"), **project.networks}


def _check(project: Project) -> None:
    from dockyard.compose.planner import dependency_order

    names = set(project.services)
    for name, svc in project.services.items():
        for dep, spec in (svc.get("depends_on") or {}).items():
            if dep not in names and spec.get("required", True):
                if dep in project.disabled:
                    raise ComposeError(
                        f"service {name!r} depends on service {dep!r} which is disabled by its profiles"
                    )
                raise ComposeError(f"service {name!r} depends on undefined service {dep!r}: invalid compose project")
        for net in svc.get("networks") or {}:
            if net not in project.networks:
                raise ComposeError(f"service {name!r} refers to undefined network {net}: invalid compose project")
        mode = svc.get("network_mode") or ""
        if mode.startswith("service:") and mode[8:] not in names:
            raise ComposeError(f"service {name!r} uses network_mode of undefined service {mode[8:]!r}")
        for vol in svc.get("volumes") or []:
            if vol.get("type") == "volume" and vol.get("source") and vol["source"] not in project.volumes:
                raise ComposeError(f"service {name!r} refers to undefined volume {vol['source']}: invalid compose project")
        for kind in ("secrets", "configs"):
            for ref in svc.get(kind) or []:
                if ref["source"] not in getattr(project, kind):
                    raise ComposeError(f"service {name!r} refers to undefined {kind[:-1]} {ref['source']}: invalid compose project")
        if not svc.get("image") and not svc.get("build"):
            raise ComposeError(f"service {name!r} has neither an image nor a build context specified: invalid compose project")
    dependency_order(project.services)  # raises on cycles
