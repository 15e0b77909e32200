# SPDX-License-Identifier: Apache-2.0
"""`dockyard build` and `dockyard builder prune`.

The context goes to the daemon as a tar, built here as Docker's CLI builds it: the
directory's files minus what `.dockerignore` (or `<Dockerfile>.dockerignore`) excludes,
with the Dockerfile always included (`-f -` reads it from stdin, `-` as the context reads
a tar from stdin). The daemon's JSON stream is rendered as the classic builder prints it.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import stat
import sys
import tarfile
import threading
from typing import Any

from dockyard.cli.command import Cli, StatusError
from dockyard.cli.parser import Command, Flag

BUILD = Command(
    "build",
    "[OPTIONS] PATH | URL | -",
    "Build an image from a Dockerfile",
    [
        Flag("tag", "t", "list", help="Name and optionally a tag in the 'name:tag' format"),
        Flag("file", "f", "string", help="Name of the Dockerfile (Default is 'PATH/Dockerfile')"),
        Flag("build-arg", "", "list", help="Set build-time variables"),
        Flag("no-cache", "", help="Do not use cache when building the image"),
        Flag("pull", "", help="Always attempt to pull a newer version of the image"),
        Flag("quiet", "q", help="Suppress the build output and print image ID on success"),
        Flag("rm", "", "string", default="true", help="Remove intermediate containers after a successful build"),
        Flag("force-rm", "", help="Always remove intermediate containers"),
        Flag("label", "", "list", help="Set metadata for an image"),
        Flag("target", "", "string", help="Set the target build stage to build."),
        Flag("network", "", "string", help="Set the networking mode for the RUN instructions during build"),
        Flag("add-host", "", "list", help="Add a custom host-to-IP mapping (host:ip)"),
        Flag("cache-from", "", "list", help="Images to consider as cache sources"),
        Flag("platform", "", "string", help="Set platform if server is multi-platform capable"),
        Flag("squash", "", help="Squash newly built layers into a single new layer"),
        Flag("iidfile", "", "string", help="Write the image ID to the file"),
        Flag("progress", "", "string", default="auto", help="Set type of progress output (auto, plain, tty)"),
        Flag("output", "o", "list", help="Output destination (format: type=local,dest=path)"),
        Flag("secret", "", "list", help="Secret file to expose to the build: id=mysecret,src=/local/secret"),
    ],
    min_args=1,
    max_args=1,
)

PRUNE = Command(
    "builder prune",
    "[OPTIONS]",
    "Remove build cache",
    [
        Flag("all", "a", help="Remove all unused build cache, not just dangling ones"),
        Flag("filter", "", "list", help="Provide filter values (e.g. 'until=24h')"),
        Flag("force", "f", help="Do not prompt for confirmation"),
        Flag("keep-storage", "", "string", help="Amount of disk space to keep for cache"),
    ],
    max_args=0,
)


def cmd_build(cli: Cli, argv: list[str], path: str) -> int:
    opts, args = BUILD.with_path(path).parse(argv)
    if opts.progress not in ("auto", "plain", "tty"):
        raise StatusError(f'invalid argument "{opts.progress}" for "--progress" flag', 125)
    source = args[0]
    dockerfile = opts.file or ""
    if source == "-":
        if dockerfile == "-":
            raise StatusError("invalid argument: can't use stdin for both build context and dockerfile", 125)
        dockerfile_name = dockerfile or "Dockerfile"
        body: Any = _stdin_context(cli, dockerfile_name)
    else:
        if not os.path.isdir(source):
            raise StatusError(f'unable to prepare context: path "{source}" not found', 1)
        stdin_dockerfile = cli.stdin.buffer.read() if dockerfile == "-" and hasattr(cli.stdin, "buffer") else None
        if dockerfile == "-":
            dockerfile_name = f"__dockerfile-dockyard-{secrets.token_hex(6)}"
        elif dockerfile:
            absolute = os.path.abspath(dockerfile)
            root = os.path.abspath(source)
            if not absolute.startswith(root + os.sep):
                # A Dockerfile outside the context travels inside the tar under a fresh name.
                stdin_dockerfile = open(absolute, "rb").read()
                dockerfile_name = f"__dockerfile-dockyard-{secrets.token_hex(6)}"
            else:
                dockerfile_name = os.path.relpath(absolute, root).replace(os.sep, "/")
        else:
            dockerfile_name = "Dockerfile"
        body = _context_pipe(source, dockerfile_name, stdin_dockerfile)
    params: dict[str, Any] = {
        "t": opts.tag or None,
        "dockerfile": dockerfile_name,
        "buildargs": json.dumps(_build_args(opts.build_arg)) if opts.build_arg else None,
        "nocache": "1" if opts.no_cache else None,
        "pull": "1" if opts.pull else None,
        "q": "1" if opts.quiet else None,
        "rm": "0" if opts.rm in ("false", "0") else "1",
        "forcerm": "1" if opts.force_rm else None,
        "labels": json.dumps(dict(_kv(v) for v in opts.label)) if opts.label else None,
        "target": opts.target or None,
        "networkmode": opts.network or None,
        "extrahosts": ",".join(opts.add_host) if opts.add_host else None,
        "cachefrom": json.dumps(opts.cache_from) if opts.cache_from else None,
        "platform": opts.platform or None,
        "squash": "1" if opts.squash else None,
    }
    client = cli.client
    resp = client._send("POST", "/build", params, data=body,  # noqa: SLF001 - the streaming build body
                        headers={"Content-Type": "application/x-tar"})
    from dockyard.client.api import iter_chunks, iter_json

    image_id = ""
    for message in iter_json(iter_chunks(resp)):
        if "errorDetail" in message or "error" in message:
            error = (message.get("errorDetail") or {}).get("message") or message.get("error")
            raise StatusError(str(error), 1)
        if "aux" in message:
            image_id = (message["aux"] or {}).get("ID", image_id)
            continue
        text = message.get("stream")
        if text and not opts.quiet:
            cli.stdout.write(text)
            cli.stdout.flush()
    if opts.quiet and image_id:
        cli.stdout.write(image_id + "\n")
    if opts.iidfile and image_id:
        with open(opts.iidfile, "w") as f:
            f.write(image_id)
    for spec in opts.output:
        _export(cli, image_id, spec)
    return 0


def cmd_builder_prune(cli: Cli, argv: list[str], path: str) -> int:
    opts, _ = PRUNE.with_path(path).parse(argv)
    filters: dict[str, list[str]] = {}
    for item in opts.filter:
        key, _, value = item.partition("=")
        filters.setdefault(key, []).append(value)
    params: dict[str, Any] = {"all": "1" if opts.all else None,
                              "filters": json.dumps(filters) if filters else None}
    if opts.keep_storage:
        from dockyard.cli.opts import ram_in_bytes

        params["keep-storage"] = str(ram_in_bytes(opts.keep_storage))
    result = cli.client._json("POST", "/build/prune", params)  # noqa: SLF001
    deleted = result.get("CachesDeleted") or []
    if deleted:
        cli.stdout.write("Deleted build cache objects:\n" + "".join(d + "\n" for d in deleted))
    from dockyard.units import human_size

    cli.stdout.write(f"Total reclaimed space: {human_size(result.get('SpaceReclaimed') or 0)}\n")
    return 0


# ── the context ───────────────────────────────────────────────────────────────────────

def _context_pipe(root: str, dockerfile: str, dockerfile_bytes: bytes | None) -> Any:
    """A readable pipe streaming the context tar, written by a thread as it is sent."""
    from dockyard.builder.dockerignore import Matcher, read_patterns

    patterns: list[str] = []
    for name in (dockerfile + ".dockerignore", ".dockerignore"):
        path = os.path.join(root, name)
        if dockerfile_bytes is None and os.path.isfile(path):
            patterns = read_patterns(open(path, "rb").read())
            break
        if dockerfile_bytes is not None and name == ".dockerignore" and os.path.isfile(path):
            patterns = read_patterns(open(path, "rb").read())
    matcher = Matcher(patterns)
    read_fd, write_fd = os.pipe()

    def produce() -> None:
        with os.fdopen(write_fd, "wb") as out:
            tf = tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT)  # type: ignore[call-overload]
            try:
                _add_tree(tf, root, "", matcher, {dockerfile, ".dockerignore"})
                if dockerfile_bytes is not None:
                    info = tarfile.TarInfo(dockerfile)
                    info.size, info.mode = len(dockerfile_bytes), 0o644
                    tf.addfile(info, io.BytesIO(dockerfile_bytes))
                tf.close()
            except BrokenPipeError:
                pass

    threading.Thread(target=produce, daemon=True).start()
    return os.fdopen(read_fd, "rb")


def _add_tree(tf: tarfile.TarFile, root: str, rel: str, matcher: Any, always: set[str]) -> None:
    directory = os.path.join(root, rel) if rel else root
    for name in sorted(os.listdir(directory)):
        child = f"{rel}/{name}" if rel else name
        full = os.path.join(root, child)
        st = os.lstat(full)
        excluded = matcher and child not in always and matcher.excluded(child)
        if excluded and not (stat.S_ISDIR(st.st_mode) and matcher.may_contain_kept(child)):
            continue
        if not excluded:
            info = tf.gettarinfo(full, child)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if info.isreg():
                with open(full, "rb") as f:
                    tf.addfile(info, f)
            else:
                tf.addfile(info)
        if stat.S_ISDIR(st.st_mode):
            _add_tree(tf, root, child, matcher, always)


def _stdin_context(cli: Cli, dockerfile_name: str) -> Any:
    """`build -`: stdin is a context archive (tar, gzip, bzip2, xz), or, as with Docker's
    CLI, a bare Dockerfile that becomes a context holding only itself."""
    src = cli.stdin.buffer if hasattr(cli.stdin, "buffer") else sys.stdin.buffer
    head = src.read(512)
    archive = (head[257:262] == b"ustar" or head.startswith((b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00"))
               or (len(head) == 512 and not head.strip(b"\0")))
    if archive:
        return _StdinReader(src, head)
    dockerfile = head + src.read()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tf:
        info = tarfile.TarInfo(dockerfile_name)
        info.size, info.mode = len(dockerfile), 0o644
        tf.addfile(info, io.BytesIO(dockerfile))
    return buffer.getvalue()


class _StdinReader:
    """stdin, with the bytes already read to sniff it given back first."""

    def __init__(self, src: Any, head: bytes):
        self._src = src
        self._head = head

    def read(self, n: int = -1) -> bytes:
        if self._head:
            data = self._head if n is None or n < 0 else self._head[:n]
            self._head = self._head[len(data):]
            return data + (self._src.read() if n is None or n < 0 else b"")
        return self._src.read(n)


def _build_args(values: list[str]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for value in values:
        key, eq, rest = value.partition("=")
        out[key] = rest if eq else os.environ.get(key)
    return out


def _kv(value: str) -> tuple[str, str]:
    key, _, rest = value.partition("=")
    return key, rest


def _export(cli: Cli, image_id: str, spec: str) -> None:
    """`-o type=local,dest=DIR` / `type=tar,dest=FILE`: the image's files, through a
    created (never started) container's export, as Docker's CLI would fetch them."""
    fields = dict(_kv(p) for p in spec.split(",")) if "=" in spec else {"type": "local", "dest": spec}
    kind, dest = fields.get("type", "local"), fields.get("dest", "")
    if not dest:
        raise StatusError("output requires dest", 1)
    client = cli.client
    created = client.create_container({"Image": image_id, "Cmd": ["/nonexistent"]})
    cid = created["Id"]
    try:
        chunks = client.export(cid)
        if kind == "tar":
            out = sys.stdout.buffer if dest == "-" else open(dest, "wb")
            with out:
                for chunk in chunks:
                    out.write(chunk)
        elif kind == "local":
            os.makedirs(dest, exist_ok=True)
            reader = io.BufferedReader(_ChunkReader(chunks))  # type: ignore[arg-type]
            with tarfile.open(fileobj=reader, mode="r|") as tf:
                tf.extractall(dest, filter="tar")  # type: ignore[call-arg]
        else:
            raise StatusError(f"unsupported output type {kind!r}: use local or tar", 1)
    finally:
        client.remove_container(cid, force=True)


class _ChunkReader(io.RawIOBase):
    def __init__(self, chunks: Any):
        self._chunks = iter(chunks)
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                return 0
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n
