# SPDX-License-Identifier: Apache-2.0
"""RUN --mount: what each mount type gives the step's container, and the mount points it
leaves behind, taken out of the layer again.

    cache    a directory the daemon keeps per `id` (default: the target) across builds
    bind     `source` from the context, a stage or an image (`from`), read-only unless `rw`
             (then a throwaway copy); the default type, as Docker's
    tmpfs    an empty tmpfs (`size`)
    secret   a build secret (`id`, default: the target's base name) as a file at `target`
             (default `/run/secrets/<id>`), mode 0400 and owned by root unless `mode`,
             `uid`, `gid` say otherwise; a missing secret is skipped unless `required`;
             with `env=NAME`, the secret is the value of NAME in the step's environment
             instead (and also a file only when a `target` is given), as BuildKit's

A secret is written for the one step to a private directory on the daemon's exec root
(a tmpfs), bind-mounted read-only, and removed when the step ends: its bytes never pass
through the container's rw layer, so never into a commit; nor does it enter the cache key
(the step's text names the id, not the content).

runc makes each mount target (and its missing parents) in the rw layer. `remove_stubs`
takes those out before the commit when the image had no such path and they are still
empty, as BuildKit does, so a secret's name or an empty cache directory is not left in
the image.
"""

from __future__ import annotations

import errno
import os
import posixpath
import shutil
import stat
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dockyard.daemon.rwlayer import LowerView
from dockyard.errors import DockyardError
from dockyard.idmap import IDENTITY, IDMap, IDMapError

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC

# (origin stage or image or None for the context, source path) → a copy of it to mount
# (a directory, or a file) and the directory to remove after the step.
Materialize = Callable[[str | None, str], Awaitable[tuple[Path, Path]]]


class MountError(DockyardError):
    """A RUN --mount that cannot be set up; the build reports it (HTTP 400)."""

    status = 400


@dataclass
class StepMounts:
    """What `prepare` made for one RUN step: container mounts and what to undo."""

    binds: list[str] = field(default_factory=list)
    tmpfs: dict[str, str] = field(default_factory=dict)
    targets: list[str] = field(default_factory=list)
    env: list[str] = field(default_factory=list)
    cleanups: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        for cleanup in reversed(self.cleanups):
            cleanup()
        self.cleanups.clear()


async def prepare(specs: list[str], line: int, workdir: str, *, secrets: Mapping[str, bytes],
                  cache_dir: Callable[[str], Path], scratch: Callable[[str], Path],
                  materialize: Materialize, idmap: IDMap = IDENTITY) -> StepMounts:
    """The mounts of one RUN step from its `--mount` flags; on an error nothing made is
    left behind. `idmap` (--userns-remap) gives a secret's owner its host IDs."""
    mounts = StepMounts()
    try:
        for spec in specs:
            await _add(mounts, spec, line, workdir, secrets, cache_dir, scratch, materialize, idmap)
    except BaseException:
        mounts.close()
        raise
    return mounts


async def _add(mounts: StepMounts, spec: str, line: int, workdir: str, secrets: Mapping[str, bytes],
               cache_dir: Callable[[str], Path], scratch: Callable[[str], Path],
               materialize: Materialize, idmap: IDMap = IDENTITY) -> None:
    fields = dict(_kv(part) for part in spec.split(",") if part)
    kind = fields.get("type", "bind")
    target = fields.get("target") or fields.get("dst") or fields.get("destination") or ""
    if kind == "secret":
        secret_id = fields.get("id") or posixpath.basename(target)
        if not secret_id:
            raise _error(line, "secret mount requires an id or a target")
        if "env" in fields:
            data = secrets.get(secret_id)
            if data is None and _flag(fields, "required"):
                raise MountError(f"line {line}: secret {secret_id} not found")
            if data is not None:
                if not fields["env"] or "=" in fields["env"]:
                    raise _error(line, f"secret mount: invalid environment variable name {fields['env']!r}")
                mounts.env.append(f"{fields['env']}={data.decode(errors='replace')}")
            if not target:
                return
        target = target or "/run/secrets/" + secret_id
    if not target:
        raise _error(line, "mount target required")
    if not target.startswith("/"):
        target = posixpath.join(workdir or "/", target)
    if kind == "tmpfs":
        mounts.tmpfs[target] = f"size={fields['size']}" if "size" in fields else ""
    elif kind == "cache":
        path = cache_dir(fields.get("id") or target)
        mounts.binds.append(f"{path}:{target}" + (":ro" if _flag(fields, "readonly", "ro") else ""))
    elif kind == "bind":
        path, scratch_dir = await materialize(fields.get("from"), fields.get("source") or fields.get("src") or ".")
        mounts.cleanups.append(lambda p=scratch_dir: shutil.rmtree(p, ignore_errors=True))
        mounts.binds.append(f"{path}:{target}:" + ("rw" if _flag(fields, "rw", "readwrite") else "ro"))
    elif kind == "secret":
        data = secrets.get(secret_id)
        if data is None:
            if _flag(fields, "required"):
                raise MountError(f"line {line}: secret {secret_id} not found")
            return
        path = _secret_file(scratch("secret"), data, line, fields, idmap)
        mounts.cleanups.append(lambda p=path.parent: shutil.rmtree(p, ignore_errors=True))
        mounts.binds.append(f"{path}:{target}:ro")
    else:
        raise _error(line, f"unsupported mount type {kind!r}")
    mounts.targets.append(target)


def _secret_file(directory: Path, data: bytes, line: int, fields: dict[str, str],
                 idmap: IDMap = IDENTITY) -> Path:
    try:
        mode = int(fields.get("mode") or "0400", 8)
        uid, gid = int(fields.get("uid") or 0), int(fields.get("gid") or 0)
    except ValueError:
        raise _error(line, "secret mount: mode must be octal, uid and gid numbers") from None
    try:
        uid, gid = idmap.to_host(uid, gid)
    except IDMapError as e:
        raise _error(line, f"secret mount: {e}") from None
    os.mkdir(directory, 0o700)
    path = directory / "secret"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, data)
        os.fchown(fd, uid, gid)
        os.fchmod(fd, mode & 0o7777)
    finally:
        os.close(fd)
    return path


def remove_stubs(upper: Path, lowers: list[Path], targets: list[str]) -> None:
    """Remove the mount points runc made in the rw layer `upper` for `targets`: each
    path (and parent) the image lacks, as long as it is an empty directory or file.
    Nothing is followed: a symlink on the way means the stub is elsewhere, left as is."""
    view = LowerView(lowers)
    for target in sorted(set(targets), key=lambda t: -t.count("/")):
        rel = posixpath.normpath("/" + target).strip("/")
        while rel and view.lstat(rel) is None:
            if not _remove_if_empty(upper, rel):
                break
            rel = posixpath.dirname(rel)


def _remove_if_empty(upper: Path, rel: str) -> bool:
    parent, _, name = rel.rpartition("/")
    try:
        fd = os.open(upper, _DIR_FLAGS)
    except OSError:
        return False
    try:
        for part in parent.split("/") if parent else []:
            child = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = child
        st = os.stat(name, dir_fd=fd, follow_symlinks=False)
        if stat.S_ISDIR(st.st_mode):
            os.rmdir(name, dir_fd=fd)
        elif stat.S_ISREG(st.st_mode) and st.st_size == 0:
            os.unlink(name, dir_fd=fd)
        else:
            return False
    except OSError as e:
        if e.errno not in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.ENOTEMPTY, errno.EEXIST):
            raise
        return False
    finally:
        os.close(fd)
    return True


def _flag(fields: dict[str, str], *names: str) -> bool:
    """A boolean option: present bare (`required`) or set to true."""
    return any(name in fields and fields[name] in ("", "true", "1") for name in names)


def _kv(part: str) -> tuple[str, str]:
    key, eq, value = part.partition("=")
    return key.strip().lower(), value.strip() if eq else ""


def _error(line: int, message: str) -> MountError:
    return MountError(f"dockerfile parse error line {line}: {message}")
