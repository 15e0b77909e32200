# SPDX-License-Identifier: Apache-2.0
"""`cp`: copying between a container and the local filesystem with tar streams.

The container side is the archive endpoint (`HEAD` to stat a path, `GET` for a tar of
it, `PUT` to extract one into a directory); the path rules are Docker's archive package
(moby/go-archive), which users know from `docker cp`:

* `SRC` a file: copied to `DEST` if that is a file or does not exist (its parent must),
  into `DEST` if that is a directory; `DEST/` that does not exist is an error.
* `SRC` a directory: copied into `DEST` if that exists, as `DEST` if it does not;
  `SRC/.` copies the directory's contents instead of the directory.
* `-` is a tar stream on stdin (to a container directory) or stdout (from a container).
* `-L` follows a symbolic link in `SRC`; `-a` keeps uid/gid in the container.

Rebasing (copying `a` as `b`) renames the first occurrence of the source's base name in
each tar entry, exactly as Docker does.
"""

from __future__ import annotations

import os
import posixpath
import stat as statmod
import tarfile
from collections.abc import Iterable, Iterator

from dockyard.cli.command import Cli, StatusError, parse_args
from dockyard.cli.parser import Command, Flag, is_set

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import IO, Any

CP = Command(
    "cp",
    "[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tdockyard cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
    "Copy files/folders between a container and the local filesystem\n\n"
    "Use '-' as the source to read a tar archive from stdin\n"
    "and extract it to a directory destination in a container.\n"
    "Use '-' as the destination to stream a tar archive of a\n"
    "container source to stdout.",
    [
        Flag("archive", "a", help="Archive mode (copy all uid/gid information)"),
        Flag("follow-link", "L", help="Always follow symbol link in SRC_PATH"),
        Flag(
            "quiet",
            "q",
            help="Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached",
        ),
    ],
    min_args=2,
    max_args=2,
    aliases=["container cp", "cp"],
)

# Go's os.FileMode type bits, as the PathStat header carries them.
MODE_DIR = 1 << 31
MODE_SYMLINK = 1 << 27
MODE_DEVICE = 1 << 26
MODE_IRREGULAR = 1 << 19


class CopyError(Exception):
    """A cp failure with Docker's message (exit 1)."""


def cmd_cp(cli: Cli, argv: list[str], path: str) -> int:
    opts, args = parse_args(cli, CP.with_path(path), argv)
    source, destination = args
    if source == "":
        raise StatusError("source can not be empty", 1)
    if destination == "":
        raise StatusError("destination can not be empty", 1)
    quiet = opts.quiet if is_set(opts, "quiet") else not _isatty(cli.stdout)
    src_container, src_path = split_cp_arg(source)
    dst_container, dst_path = split_cp_arg(destination)
    try:
        if src_container and dst_container:
            raise CopyError("copying between containers is not supported")
        if src_container:
            copy_from_container(cli, src_container, src_path, dst_path, opts.follow_link, quiet)
        elif dst_container:
            copy_to_container(
                cli, src_path, dst_container, dst_path, opts.follow_link, opts.archive, quiet
            )
        else:
            raise CopyError("must specify at least one container source")
    except CopyError as exc:
        raise StatusError(str(exc), 1) from None
    return 0


def split_cp_arg(arg: str) -> tuple[str, str]:
    """`container:path` → (container, path); local paths (absolute, or `./x:y`) → ("", arg)."""
    if arg.startswith("/"):
        return "", arg
    container, sep, path = arg.partition(":")
    if not sep or container.startswith("."):
        return "", arg
    return container, path


# --- from a container -------------------------------------------------------------------


def copy_from_container(
    cli: Cli, container: str, src_path: str, dst_path: str, follow_link: bool, quiet: bool
) -> None:
    if dst_path != "-":
        dst_path = resolve_local_path(dst_path)
        validate_output_path(dst_path)
    client = cli.client
    rebase_name = ""
    if follow_link:
        try:
            stat = client.stat_path(container, src_path)
        except _api_errors():
            stat = None
        if stat and int(stat.get("mode") or 0) & MODE_SYMLINK:
            target = stat.get("linkTarget") or ""
            if not target.startswith("/"):
                parent, _ = split_path_dir_entry(src_path)
                target = posixpath.join(parent, target)
            target, rebase_name = get_rebase_name(src_path, target)
            src_path = target
    chunks, stat = client.get_archive(container, src_path)
    if dst_path == "-":
        for chunk in chunks:
            cli.out_bytes(chunk)
        return
    counter = _Counter(chunks)
    info = {
        "Path": src_path,
        "Exists": True,
        "IsDir": bool(int(stat.get("mode") or 0) & MODE_DIR),
        "RebaseName": rebase_name,
    }
    rename: tuple[str, str] | None = None
    if rebase_name:
        _, src_base = split_path_dir_entry(src_path)
        rename = (src_base, rebase_name)
    with _progress(cli, quiet, "Copying from container - ", counter):
        copy_to_local(counter.reader(), info, dst_path, rename)
    if not quiet:
        cli.err(f"Successfully copied {_size(counter.total)} to {dst_path}")


def copy_to_local(
    stream: IO[bytes], src: dict[str, Any], dst_path: str, pre_rename: tuple[str, str] | None
) -> None:
    """Docker's archive.CopyTo: extract the tar `stream` of `src` at local `dst_path`."""
    dst = copy_info_destination_path(dst_path)
    dst_dir, rename = prepare_archive_copy(src, dst)
    untar(stream, dst_dir, [r for r in (pre_rename, rename) if r])


def copy_info_destination_path(path: str) -> dict[str, Any]:
    original = path
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    if st is not None and not statmod.S_ISLNK(st.st_mode):
        return {"Path": path, "Exists": True, "IsDir": statmod.S_ISDIR(st.st_mode)}
    hops = 0
    while st is not None and statmod.S_ISLNK(st.st_mode):
        if hops > 10:
            raise CopyError(f"too many symlinks in {original}")
        hops += 1
        target = os.readlink(path)
        if not target.startswith("/"):
            parent, _ = split_path_dir_entry(path)
            target = os.path.join(parent, target)
        path = target
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            st = None
    if st is None:
        parent, _ = split_path_dir_entry(path)
        try:
            parent_stat = os.stat(parent)
        except OSError as exc:
            raise CopyError(f"stat {parent}: {_strerror(exc)}") from None
        if not statmod.S_ISDIR(parent_stat.st_mode):
            raise CopyError("not a directory")
        return {"Path": path, "Exists": False, "IsDir": False}
    return {"Path": path, "Exists": True, "IsDir": statmod.S_ISDIR(st.st_mode)}


def untar(stream: IO[bytes], dest: str, renames: list[tuple[str, str]]) -> None:
    """Extract a tar stream into `dest` like Docker's Untar with NoLchown and
    NoOverwriteDirNonDir: no ownership changes, no directory replaced by a file (or the
    reverse), nothing written outside `dest`."""
    dest = os.path.normpath(dest)
    directories: list[tuple[str, tarfile.TarInfo]] = []
    try:
        with tarfile.open(fileobj=stream, mode="r|*") as tar:
            for member in tar:
                name = member.name
                linkname = member.linkname
                for old, new in renames:
                    name = name.replace(old, new, 1) if old else new + name
                    if member.islnk():
                        linkname = linkname.replace(old, new, 1) if old else new + linkname
                if member.type in (tarfile.XGLTYPE,):
                    continue
                name = posixpath.normpath(name) if name else "."
                if not name.endswith("/"):
                    parent = os.path.join(dest, posixpath.dirname(name))
                    if not os.path.lexists(parent):
                        os.makedirs(parent, 0o755, exist_ok=True)
                target = os.path.normpath(os.path.join(dest, name))
                relative = os.path.relpath(target, dest)
                if relative == ".." or relative.startswith("../"):
                    raise CopyError(f"{name!r} is outside of {dest!r}".replace("'", '"'))
                try:
                    existing = os.lstat(target)
                except FileNotFoundError:
                    existing = None
                if existing is not None:
                    is_dir = statmod.S_ISDIR(existing.st_mode)
                    if is_dir and not member.isdir():
                        raise CopyError(f'cannot overwrite directory "{target}" with non-directory "{dest}"')
                    if not is_dir and member.isdir():
                        raise CopyError(f'cannot overwrite non-directory "{target}" with directory "{dest}"')
                    if is_dir and name == ".":
                        continue
                    if not is_dir or not member.isdir():
                        _remove_all(target)
                _create(tar, member, target, dest, linkname)
                if member.isdir():
                    directories.append((target, member))
    except tarfile.TarError as exc:
        raise CopyError(str(exc)) from None
    for target, member in directories:
        try:
            os.utime(target, (member.mtime, member.mtime))
        except OSError:
            pass


def _create(tar: tarfile.TarFile, member: tarfile.TarInfo, path: str, dest: str, linkname: str) -> None:
    mode = member.mode & 0o7777
    if member.isdir():
        if not os.path.isdir(path) or os.path.islink(path):
            os.mkdir(path, mode)
    elif member.isreg():
        source = tar.extractfile(member)
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, mode)
        with os.fdopen(fd, "wb") as handle:
            if source is not None:
                while True:
                    block = source.read(65536)
                    if not block:
                        break
                    handle.write(block)
    elif member.issym():
        target = os.path.normpath(os.path.join(os.path.dirname(path), linkname))
        if not target.startswith(dest):
            raise CopyError(f'invalid symlink "{path}" -> "{linkname}"')
        os.symlink(linkname, path)
        return
    elif member.islnk():
        target = os.path.normpath(os.path.join(dest, linkname))
        if not target.startswith(dest):
            raise CopyError(f'invalid hardlink "{target}" -> "{linkname}"')
        os.link(target, path)
    elif member.isfifo():
        os.mkfifo(path, mode)
    elif member.ischr() or member.isblk():
        kind = statmod.S_IFCHR if member.ischr() else statmod.S_IFBLK
        os.mknod(path, mode | kind, os.makedev(member.devmajor, member.devminor))
    else:
        raise CopyError(f"unhandled tar header type {member.type!r}")
    os.chmod(path, mode)
    os.utime(path, (member.mtime, member.mtime))


def _remove_all(path: str) -> None:
    import shutil

    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        os.unlink(path)


# --- to a container ---------------------------------------------------------------------


def copy_to_container(
    cli: Cli,
    src_path: str,
    container: str,
    dst_path: str,
    follow_link: bool,
    copy_uid_gid: bool,
    quiet: bool,
) -> None:
    if src_path != "-":
        src_path = resolve_local_path(src_path)
    client = cli.client
    dst = {"Path": dst_path, "Exists": False, "IsDir": False}
    try:
        stat: dict[str, Any] | None = client.stat_path(container, dst_path)
    except _api_errors():
        stat = None
    if stat is not None and int(stat.get("mode") or 0) & MODE_SYMLINK:
        target = stat.get("linkTarget") or ""
        if not target.startswith("/"):
            parent, _ = split_path_dir_entry(dst_path)
            target = posixpath.join(parent, target)
        dst["Path"] = target
        try:
            stat = client.stat_path(container, target)
        except _api_errors():
            stat = None
    mode = int((stat or {}).get("mode") or 0)
    problem = _file_mode_problem(mode)
    if problem:
        raise CopyError(
            f'destination "{container}:{dst_path}" must be a directory or a regular file: {problem}'
        )
    if stat is not None:
        dst["Exists"], dst["IsDir"] = True, bool(mode & MODE_DIR)
    if src_path == "-":
        if not dst["IsDir"]:
            raise CopyError(f'destination "{container}:{dst_path}" must be a directory')
        body: Any = _stdin_bytes(cli)
        resolved = dst["Path"]
        counter = None
    else:
        src = copy_info_source_path(src_path, follow_link)
        resolved, rename = prepare_archive_copy(src, dst)
        archive = tar_resource(src, rename)
        counter = _Counter(archive)
        body = counter.reader()
    with _progress(cli, quiet or counter is None, "Copying to container - ", counter):
        client.put_archive(container, resolved, body, copy_uid_gid=copy_uid_gid)
    if not quiet:
        size = counter.total if counter is not None else 0
        cli.err(f"Successfully copied {_size(size)} to {container}:{dst['Path']}")


def copy_info_source_path(path: str, follow_link: bool) -> dict[str, Any]:
    """Docker's CopyInfoSourcePath: resolve symlinks in the parent (or all, with -L)."""
    rebase_name = ""
    if follow_link:
        try:
            resolved = _eval_symlinks(path)
        except OSError as exc:
            raise CopyError(f"lstat {exc.filename or path}: {_strerror(exc)}") from None
        resolved, rebase_name = get_rebase_name(path, resolved)
    else:
        directory, base = os.path.split(path)
        try:
            resolved_dir = _eval_symlinks(directory or ".")
        except OSError as exc:
            raise CopyError(f"lstat {exc.filename or directory}: {_strerror(exc)}") from None
        resolved = resolved_dir.rstrip("/") + "/" + base
        if path.endswith("/") and os.path.basename(path.rstrip("/")) != os.path.basename(resolved.rstrip("/")):
            rebase_name = os.path.basename(path.rstrip("/"))
    try:
        st = os.lstat(resolved)
    except OSError as exc:
        raise CopyError(f"lstat {resolved}: {_strerror(exc)}") from None
    return {"Path": resolved, "Exists": True, "IsDir": statmod.S_ISDIR(st.st_mode), "RebaseName": rebase_name}


def tar_resource(src: dict[str, Any], rename: tuple[str, str] | None) -> Iterator[bytes]:
    """A tar stream of the source, entries named from its base name (renamed as asked)."""
    import queue
    import threading

    path = src["Path"]
    source_dir, source_base = split_path_dir_entry(path)
    rebase = src.get("RebaseName") or ""
    chunks: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=16)

    class _Pipe:
        written = 0

        def write(self, data: bytes) -> int:
            if data:
                chunks.put(bytes(data))
                self.written += len(data)
            return len(data)

        def tell(self) -> int:
            return self.written

        def flush(self) -> None:
            pass

    def produce() -> None:
        try:
            pipe = _Pipe()
            tar = tarfile.open(fileobj=pipe, mode="w", format=tarfile.PAX_FORMAT)  # type: ignore[call-overload]
            for full, rel in _walk(source_dir, source_base):
                name = rel
                if rebase:
                    name = name.replace(source_base, rebase if rebase != "/" else "", 1)
                if rename is not None:
                    old, new = rename
                    name = name.replace(old, new, 1) if old else new + name
                info = tar.gettarinfo(full, arcname=name)
                if info.islnk() and rename is not None:
                    old, new = rename
                    info.linkname = info.linkname.replace(old, new, 1) if old else new + info.linkname
                if info.isreg():
                    with open(full, "rb") as handle:
                        tar.addfile(info, handle)
                else:
                    tar.addfile(info)
            # End with the two zero blocks Go's tar writer ends with; tarfile's close()
            # would pad to a 10 kB record, which `cp` would then count as copied.
            pipe.write(tarfile.NUL * (tarfile.BLOCKSIZE * 2))
            tar.closed = True
            chunks.put(None)
        except BaseException as exc:  # handed to the reading side
            chunks.put(exc)

    threading.Thread(target=produce, name="tar", daemon=True).start()

    def consume() -> Iterator[bytes]:
        while True:
            item = chunks.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise CopyError(str(item))
            yield item

    return consume()


def _walk(source_dir: str, include: str) -> Iterator[tuple[str, str]]:
    """(path, name in the archive) in Go's WalkDir order: the include itself first, then
    depth first with each directory's entries sorted by name."""
    root = os.path.normpath(os.path.join(source_dir, include))
    yield root, include

    def visit(directory: str, prefix: str) -> Iterator[tuple[str, str]]:
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            return
        for name in names:
            full = os.path.join(directory, name)
            rel = f"{prefix}/{name}"
            yield full, rel
            if os.path.isdir(full) and not os.path.islink(full):
                yield from visit(full, rel)

    if os.path.isdir(root) and not os.path.islink(root):
        yield from visit(root, include)


def prepare_archive_copy(src: dict[str, Any], dst: dict[str, Any]) -> tuple[str, tuple[str, str] | None]:
    """Docker's PrepareArchiveCopy: the directory to extract into, and the rename
    (old base → new base) to apply to the archive's entries, if any."""
    dst_dir, dst_base = split_path_dir_entry(dst["Path"])
    _, src_base = split_path_dir_entry(src["Path"])
    if dst["Exists"] and dst["IsDir"]:
        return dst["Path"], None
    if dst["Exists"] and src["IsDir"]:
        raise CopyError("cannot copy directory")
    if not dst["Exists"] and not src["IsDir"] and asserts_directory(dst["Path"]):
        raise CopyError("no such directory")
    base = src.get("RebaseName") or src_base
    if base == "/":
        base = ""
    return dst_dir, (base, dst_base)


# --- Docker's path helpers ------------------------------------------------------------


def resolve_local_path(path: str) -> str:
    return preserve_trailing_dot_or_separator(os.path.abspath(path), path)


def preserve_trailing_dot_or_separator(cleaned: str, original: str) -> str:
    if not specifies_current_dir(cleaned) and specifies_current_dir(original):
        if not cleaned.endswith("/"):
            cleaned += "/"
        cleaned += "."
    if not cleaned.endswith("/") and original.endswith("/"):
        cleaned += "/"
    return cleaned


def specifies_current_dir(path: str) -> bool:
    return _go_base(path) == "."


def asserts_directory(path: str) -> bool:
    return path.endswith("/") or specifies_current_dir(path)


def split_path_dir_entry(path: str) -> tuple[str, str]:
    cleaned = _go_clean(path)
    if specifies_current_dir(path):
        cleaned += "/."
    return _go_dir(cleaned), _go_base(cleaned)


def get_rebase_name(path: str, resolved: str) -> tuple[str, str]:
    rebase = ""
    if specifies_current_dir(path) and not specifies_current_dir(resolved):
        resolved += "/."
    if path.endswith("/") and not resolved.endswith("/"):
        resolved += "/"
    if _go_base(path) != _go_base(resolved):
        rebase = _go_base(path)
    return resolved, rebase


def validate_output_path(path: str) -> None:
    directory = _go_dir(_go_clean(path))
    if directory not in ("", ".") and not os.path.exists(directory):
        raise CopyError(f'invalid output path: directory "{directory}" does not exist')
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise CopyError(f"stat {path}: {_strerror(exc)}") from None
    if statmod.S_ISDIR(st.st_mode) or statmod.S_ISREG(st.st_mode):
        return
    problem = "got a device" if (statmod.S_ISCHR(st.st_mode) or statmod.S_ISBLK(st.st_mode)) else "got an irregular file"
    raise CopyError(f'invalid output path: "{path}" must be a directory or a regular file: {problem}')


def _file_mode_problem(mode: int) -> str:
    if mode & MODE_DEVICE:
        return "got a device"
    if mode & MODE_IRREGULAR:
        return "got an irregular file"
    return ""


def _go_clean(path: str) -> str:
    return posixpath.normpath(path) if path else "."


def _go_base(path: str) -> str:
    if path == "":
        return "."
    stripped = path.rstrip("/")
    if stripped == "":
        return "/"
    return stripped.rsplit("/", 1)[-1]


def _go_dir(path: str) -> str:
    head = path[: path.rfind("/") + 1] if "/" in path else ""
    return _go_clean(head) if head else "."


def _eval_symlinks(path: str) -> str:
    """filepath.EvalSymlinks: the path with every symlink resolved; it must exist."""
    os.lstat(path)  # raises FileNotFoundError (with the path) when missing
    resolved = os.path.realpath(path)
    if not os.path.isabs(path):
        resolved = os.path.relpath(resolved)
    return resolved


def _strerror(exc: OSError) -> str:
    return (exc.strerror or str(exc)).lower()


# --- streams and progress ---------------------------------------------------------------


class _Counter:
    """Counts the bytes of a chunk stream as it is read."""

    def __init__(self, chunks: Iterable[bytes]):
        self.chunks = iter(chunks)
        self.total = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.chunks:
            self.total += len(chunk)
            yield chunk

    def reader(self) -> IO[bytes]:
        return _ChunkReader(iter(self))


class _ChunkReader:
    """A read()-able file over an iterator of byte chunks (for tarfile's stream mode)."""

    def __init__(self, chunks: Iterator[bytes]):
        self.chunks = chunks
        self.buffer = b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self.buffer) < size:
            try:
                self.buffer += next(self.chunks)
            except StopIteration:
                break
        if size < 0:
            data, self.buffer = self.buffer, b""
        else:
            data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def __iter__(self) -> Iterator[bytes]:
        if self.buffer:
            yield self.buffer
            self.buffer = b""
        yield from self.chunks


class _progress:
    """Docker's copy progress on a terminal: `Copying to container - 1.2MB`, redrawn."""

    def __init__(self, cli: Cli, quiet: bool, header: str, counter: _Counter | None):
        self.active = not quiet and counter is not None and _isatty(cli.stderr)
        self.cli = cli
        self.header = header
        self.counter = counter
        self.stop: Any = None

    def __enter__(self) -> _progress:
        if not self.active:
            return self
        import threading

        self.stop = threading.Event()
        err = self.cli.stderr
        err.write("\x1b7Preparing to copy...")
        err.write(f"\x1b[?25l\x1b8\x1b[2K{self.header}{_size(0)}")
        err.flush()

        def tick() -> None:
            last = 0
            while not self.stop.wait(0.075):
                assert self.counter is not None
                if self.counter.total != last:
                    last = self.counter.total
                    err.write(f"\x1b[{len(self.header) + 1}G\x1b[0K{_size(last)}")
                    err.flush()

        self.thread = threading.Thread(target=tick, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.active:
            return
        self.stop.set()
        self.thread.join()
        self.cli.stderr.write("\x1b[?25h\x1b8\x1b[2K")
        self.cli.stderr.flush()


def _size(n: int) -> str:
    from dockyard.units import human_size

    return human_size(n, 3)


def _stdin_bytes(cli: Cli) -> Any:
    stream = getattr(cli.stdin, "buffer", cli.stdin)
    return iter(lambda: stream.read(65536), b"")


def _isatty(stream: Any) -> bool:
    try:
        return os.isatty(stream.fileno())
    except (AttributeError, ValueError, OSError):
        return False


def _api_errors() -> tuple[type[BaseException], ...]:
    from dockyard.client.errors import APIError

    return (APIError,)
