# SPDX-License-Identifier: Apache-2.0
"""What a container asks to have mounted, parsed from the create body with Docker's rules
and messages: `HostConfig.Binds` (`-v`), `HostConfig.Mounts` (`--mount`),
`HostConfig.VolumesFrom`, `HostConfig.Tmpfs` and `Config.Volumes` (the image's `VOLUME`s
merged with the request's anonymous `-v /path`).

`plan()` combines them the way Docker does, lowest precedence first:

    VolumesFrom  ◀── overridden by ──  Binds / Mounts  (same destination twice: an error)
                                       Tmpfs           (clashing with a bind: an error)
    Config.Volumes: only where nothing else is mounted

Everything here is pure: no filesystem, no daemon state beyond the records handed in, so
a bad request is refused before anything is made.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field, replace
from typing import Any

from dockyard.errors import InvalidParameter, NotFound

VOLUME = "volume"
BIND = "bind"
TMPFS = "tmpfs"

ANONYMOUS_LABEL = "com.docker.volume.anonymous"
LOCAL_DRIVER = "local"

PROPAGATIONS = ("private", "rprivate", "shared", "rshared", "slave", "rslave")
DEFAULT_PROPAGATION = "rprivate"

# Mode words of `-v src:dst:mode`, by the group a mode may name at most once.
_MODE_GROUPS: dict[str, str] = {
    "rw": "rw", "ro": "rw",
    "z": "label", "Z": "label",
    "nocopy": "copy",
    "consistent": "consistency", "cached": "consistency", "delegated": "consistency",
    **{p: "propagation" for p in PROPAGATIONS},
}

_NAME_RE = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+")


@dataclass
class MountSpec:
    """One mount a container wants, whatever syntax it came from."""

    type: str                       # volume, bind or tmpfs
    destination: str                # clean absolute path in the container
    source: str = ""                # bind: host path; volume: name ("" until an anonymous one is named)
    rw: bool = True
    mode: str = ""                  # as `Mounts[].Mode` shows it
    propagation: str = ""           # binds only
    copy: bool = True               # volumes: fill a fresh volume from the image
    subpath: str = ""               # volumes: mount only this directory of it
    create_source: bool = False     # binds: make a missing host directory (`-v`), else refuse
    non_recursive: bool = False     # binds: `bind` instead of `rbind`
    driver: str = LOCAL_DRIVER
    driver_opts: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] | None = None
    tmpfs_size: int = 0
    tmpfs_mode: int = 0
    anonymous: bool = False
    inherited: bool = False         # came through VolumesFrom

    def mount_point(self, mountpoint: str = "") -> dict[str, Any]:
        """The `Mounts[]` entry of container inspect (`mountpoint`: a volume's _data)."""
        if self.type == VOLUME:
            return {"Type": VOLUME, "Name": self.source, "Source": mountpoint,
                    "Destination": self.destination, "Driver": self.driver, "Mode": self.mode,
                    "RW": self.rw, "Propagation": ""}
        if self.type == BIND:
            return {"Type": BIND, "Source": self.source, "Destination": self.destination,
                    "Mode": self.mode, "RW": self.rw, "Propagation": self.propagation}
        return {"Type": TMPFS, "Source": "", "Destination": self.destination, "Mode": "",
                "RW": self.rw, "Propagation": ""}


def plan(record: dict[str, Any], lookup: Any) -> list[MountSpec]:
    """Every mount of a new container, ordered by destination; raises with Docker's
    messages. `lookup(ref)` returns another container's record (for VolumesFrom) or
    raises NotFound."""
    config = record.get("Config") or {}
    hc = record.get("HostConfig") or {}
    driver = hc.get("VolumeDriver") or ""
    if driver not in ("", LOCAL_DRIVER):
        # Named after the first volume that would need it, like Docker's message.
        raise NotFound(f'create {_first_volume_name(hc) or "volume"}: error looking up volume plugin {driver}: plugin "{driver}" not found')
    chosen: dict[str, MountSpec] = {}
    for ref in _string_list(hc.get("VolumesFrom"), "VolumesFrom"):
        name, mode = parse_volumes_from(ref)
        source = lookup(name)
        for spec in inherited(source, mode):
            chosen[spec.destination] = spec
    explicit: set[str] = set()
    for raw in _string_list(hc.get("Binds"), "Binds"):
        spec = parse_bind(raw)
        _claim(chosen, explicit, spec)
    mounts = hc.get("Mounts") or []
    if not isinstance(mounts, list):
        raise InvalidParameter("invalid HostConfig.Mounts: expected a list")
    for raw_mount in mounts:
        spec = parse_mount(raw_mount)
        _claim(chosen, explicit, spec)
    tmpfs = hc.get("Tmpfs") or {}
    if not isinstance(tmpfs, dict):
        raise InvalidParameter("invalid HostConfig.Tmpfs: expected an object")
    tmpfs_destinations = set()
    for path in tmpfs:
        dest = clean_destination(path)
        if dest in explicit:
            raise InvalidParameter(f"Duplicate mount point: {dest}")
        chosen.pop(dest, None)  # a tmpfs beats what VolumesFrom brought
        tmpfs_destinations.add(dest)
    for path in config.get("Volumes") or {}:
        spec = parse_anonymous(path)
        if spec.destination in chosen or spec.destination in tmpfs_destinations:
            continue
        chosen[spec.destination] = spec
    return [chosen[d] for d in sorted(chosen)]


def parse_bind(raw: str) -> MountSpec:
    """One `HostConfig.Binds` entry: `[src:]dst[:mode]`, where a src starting with `/` is
    a host path and anything else a volume name."""
    if not isinstance(raw, str):
        raise InvalidParameter(f"invalid volume specification: '{raw}'")
    parts = raw.split(":")
    if len(parts) > 3 or any(p == "" for p in parts):
        raise InvalidParameter(f"invalid volume specification: '{raw}'")
    if len(parts) == 1:
        source, dest, mode = "", parts[0], ""
    elif len(parts) == 2:
        if _valid_mode(parts[1]):
            # "/foo:rw": a mode but no source; an anonymous volume takes no mode.
            raise InvalidParameter(f"invalid volume specification: '{raw}'")
        source, dest, mode = parts[0], parts[1], ""
    else:
        source, dest, mode = parts
        if not _valid_mode(mode):
            raise InvalidParameter(f"invalid mode: {mode}")
    kind = BIND if source.startswith("/") else VOLUME

    def fail(reason: str) -> InvalidParameter:
        return InvalidParameter(f"invalid volume specification: '{raw}': invalid mount config for type \"{kind}\": {reason}")

    words = mode.split(",") if mode else []
    propagation = next((w for w in words if w in PROPAGATIONS), "")
    if kind == BIND and "nocopy" in words:
        raise fail("field VolumeOptions must not be specified")
    if kind == VOLUME and propagation:
        raise fail("field BindOptions must not be specified")
    dest = _absolute_target(dest, fail)
    if kind == BIND:
        return MountSpec(BIND, dest, source=_clean(source), rw="ro" not in words, mode=mode,
                         propagation=propagation or DEFAULT_PROPAGATION, create_source=True)
    # Docker shows named (and -v anonymous) volumes with the SELinux-sharing mode "z"
    # when no mode was given.
    return MountSpec(VOLUME, dest, source=source, rw="ro" not in words, mode=mode or "z",
                     copy="nocopy" not in words, anonymous=not source)


def parse_mount(raw: Any) -> MountSpec:
    """One `HostConfig.Mounts` entry (`--mount`), checked field by field like Docker."""
    if not isinstance(raw, dict):
        raise InvalidParameter("invalid mount config: expected an object")
    kind = raw.get("Type") or ""

    def fail(reason: str) -> InvalidParameter:
        return InvalidParameter(f'invalid mount config for type "{kind}": {reason}')

    if kind not in (BIND, VOLUME, TMPFS):
        raise fail("mount type unknown")
    target = raw.get("Target") or ""
    if not target:
        raise fail("field Target must not be empty")
    source = raw.get("Source") or ""
    bind_opts = raw.get("BindOptions")
    volume_opts = raw.get("VolumeOptions")
    tmpfs_opts = raw.get("TmpfsOptions")
    readonly = bool(raw.get("ReadOnly"))
    if kind == BIND:
        if not source:
            raise fail("field Source must not be empty")
        if volume_opts is not None:
            raise fail("field VolumeOptions must not be specified")
        if tmpfs_opts is not None:
            raise fail("field TmpfsOptions must not be specified")
        if not source.startswith("/"):
            raise fail(f"invalid mount path: '{source}' mount path must be absolute")
        dest = _absolute_target(target, fail)
        bind_opts = bind_opts or {}
        propagation = bind_opts.get("Propagation") or DEFAULT_PROPAGATION
        if propagation not in PROPAGATIONS:
            raise fail(f"invalid propagation mode: {propagation}")
        return MountSpec(BIND, dest, source=_clean(source), rw=not readonly,
                         propagation=propagation,
                         create_source=bool(bind_opts.get("CreateMountpoint")),
                         non_recursive=bool(bind_opts.get("NonRecursive")))
    if kind == VOLUME:
        if bind_opts is not None:
            raise fail("field BindOptions must not be specified")
        if tmpfs_opts is not None:
            raise fail("field TmpfsOptions must not be specified")
        if not source and readonly:
            raise fail("must not set ReadOnly mode when using anonymous volumes")
        dest = _absolute_target(target, fail)
        volume_opts = volume_opts or {}
        driver_config = volume_opts.get("DriverConfig") or {}
        driver = driver_config.get("Name") or LOCAL_DRIVER
        if driver != LOCAL_DRIVER:
            raise NotFound(f'create {source or "volume"}: error looking up volume plugin {driver}: plugin "{driver}" not found')
        subpath = volume_opts.get("Subpath") or ""
        if subpath:
            clean = posixpath.normpath(subpath)
            if posixpath.isabs(subpath) or clean == ".." or clean.startswith("../"):
                raise fail("subpath must be a relative path within the volume")
            subpath = clean
        return MountSpec(VOLUME, dest, source=source, rw=not readonly, mode="z",
                         copy=not volume_opts.get("NoCopy"), subpath=subpath,
                         driver_opts=dict(driver_config.get("Options") or {}),
                         labels=dict(volume_opts.get("Labels") or {}) or None,
                         anonymous=not source)
    if source:
        raise fail("field Source must not be specified")
    if bind_opts is not None:
        raise fail("field BindOptions must not be specified")
    if volume_opts is not None:
        raise fail("field VolumeOptions must not be specified")
    dest = _absolute_target(target, fail)
    tmpfs_opts = tmpfs_opts or {}
    size = int(tmpfs_opts.get("SizeBytes") or 0)
    if size < 0:
        raise fail(f"invalid tmpfs size: {size}")
    return MountSpec(TMPFS, dest, rw=not readonly, tmpfs_size=size,
                     tmpfs_mode=int(tmpfs_opts.get("Mode") or 0))


def parse_anonymous(path: str) -> MountSpec:
    """A `Config.Volumes` key: an anonymous volume at `path`."""
    def fail(reason: str) -> InvalidParameter:
        return InvalidParameter(f"invalid volume specification: '{path}': invalid mount config for type \"volume\": {reason}")

    return MountSpec(VOLUME, _absolute_target(str(path), fail), anonymous=True)


def parse_volumes_from(raw: str) -> tuple[str, str | None]:
    """`container[:ro|rw]` → (container, mode or None to keep the source's)."""
    if not raw:
        raise InvalidParameter("volumes-from specification cannot be an empty string")
    name, sep, mode = raw.partition(":")
    if not sep:
        return name, None
    if not _valid_mode(mode):
        raise InvalidParameter(f"invalid mode: {mode}")
    if any(w in PROPAGATIONS for w in mode.split(",")):
        raise InvalidParameter(f'invalid argument "{mode}", propagation properties are not allowed with volumes-from')
    return name, mode


def inherited(source: dict[str, Any], mode: str | None) -> list[MountSpec]:
    """The volumes and binds of the container `source` as VolumesFrom hands them on:
    read-only with mode `ro`, else as they are there; never copied into."""
    result = []
    own_mounts = {m.get("Target"): m for m in (source.get("HostConfig") or {}).get("Mounts") or []
                  if isinstance(m, dict)}
    for point in source.get("Mounts") or []:
        kind = point.get("Type")
        if kind not in (VOLUME, BIND):
            continue
        # `:ro` makes everything read-only; `:rw` keeps what was read-only so (Docker).
        rw = bool(point.get("RW")) and (mode is None or "ro" not in mode.split(","))
        spec = MountSpec(kind, point["Destination"], source=point.get("Name") if kind == VOLUME else point.get("Source", ""),
                         rw=rw, propagation=point.get("Propagation") or "", copy=False,
                         driver=point.get("Driver") or LOCAL_DRIVER, create_source=True,
                         inherited=True)
        original = own_mounts.get(point["Destination"])
        if kind == VOLUME and original:
            spec = replace(spec, subpath=(original.get("VolumeOptions") or {}).get("Subpath") or "")
        result.append(spec)
    return result


def clean_destination(path: str) -> str:
    """A container path as Docker keeps it: absolute, without `.`/`..`/double slashes."""
    def fail(reason: str) -> InvalidParameter:
        return InvalidParameter(reason)

    if not isinstance(path, str) or not path.startswith("/"):
        raise fail(f"invalid mount path: '{path}' mount path must be absolute")
    return _clean(path)


def validate_name(name: str) -> None:
    """Docker's rule for local volume names (the message names the `create` that failed)."""
    if len(name) == 1 and re.fullmatch(r"[a-zA-Z0-9]", name):
        raise InvalidParameter(f"create {name}: volume name is too short, names should be at least two alphanumeric characters")
    if not _NAME_RE.fullmatch(name):
        raise InvalidParameter(
            f'create {name}: "{name}" includes invalid characters for a local volume name, only '
            '"[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, '
            "use absolute path")


def tmpfs_options(spec: MountSpec) -> list[str]:
    """The tmpfs options of a `--mount type=tmpfs`: size with Docker's unit suffix, an
    octal mode, and `ro`."""
    options = []
    if spec.tmpfs_size:
        size, suffix = spec.tmpfs_size, ""
        for unit, letter in ((1 << 30, "g"), (1 << 20, "m"), (1 << 10, "k")):
            if size % unit == 0:
                size, suffix = size // unit, letter
                break
        options.append(f"size={size}{suffix}")
    if spec.tmpfs_mode:
        options.append(f"mode={spec.tmpfs_mode & 0o7777:o}")
    if not spec.rw:
        options.append("ro")
    return options


# ── helpers ───────────────────────────────────────────────────────────────────────────

def _claim(chosen: dict[str, MountSpec], explicit: set[str], spec: MountSpec) -> None:
    if spec.destination in explicit:
        raise InvalidParameter(f"Duplicate mount point: {spec.destination}")
    explicit.add(spec.destination)
    chosen[spec.destination] = spec


def _absolute_target(path: str, fail: Any) -> str:
    if not path.startswith("/"):
        raise fail(f"invalid mount path: '{path}' mount path must be absolute")
    dest = _clean(path)
    if dest == "/":
        raise fail("invalid specification: destination can't be '/'")
    return dest


def _clean(path: str) -> str:
    # posixpath keeps a leading "//" (POSIX allows it a meaning); Go's Clean does not.
    cleaned = posixpath.normpath(path)
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    return cleaned


def _valid_mode(mode: str) -> bool:
    seen: set[str] = set()
    for word in mode.split(","):
        group = _MODE_GROUPS.get(word)
        if group is None or group in seen:
            return False
        seen.add(group)
    return True


def _string_list(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidParameter(f"invalid HostConfig.{what}: expected a list of strings")
    return value


def _first_volume_name(hc: dict[str, Any]) -> str:
    for raw in hc.get("Binds") or []:
        source = str(raw).split(":")[0] if ":" in str(raw) else ""
        if source and not source.startswith("/"):
            return source
    return ""
