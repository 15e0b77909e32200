# SPDX-License-Identifier: Apache-2.0
"""`dockyard build` and `dockyard builder prune`.

The context goes to the daemon as a tar, built here as Docker's CLI builds it: the
directory's files minus what `.dockerignore` (or `<Dockerfile>.dockerignore`) excludes,
with the Dockerfile always included (`-f -` reads it from stdin, `-` as the context reads
a tar from stdin). `--secret` values open that tar (the wire format is in
dockyard/builder/buildsecrets.py). The daemon's JSON stream is shown by `buildprogress`
(`--progress`), on stderr when an `-o …,dest=-` output takes stdout.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
import stat
import sys
import tarfile
import threading
from pathlib import Path

from dockyard.cli.command import Cli, StatusError
from dockyard.cli.parser import Command, Flag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

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
    outputs = [_output_spec(spec) for spec in opts.output]
    secrets_prefix = b"".join(_secret_member(spec) for spec in opts.secret)
    source = args[0]
    dockerfile = opts.file or ""
    if source == "-":
        if dockerfile == "-":
            raise StatusError("invalid argument: can't use stdin for both build context and dockerfile", 125)
        dockerfile_name = dockerfile or "Dockerfile"
        body: Any = _stdin_context(cli, dockerfile_name, secrets_prefix)
        local = None
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
                stdin_dockerfile = Path(absolute).read_bytes()
                dockerfile_name = f"__dockerfile-dockyard-{secrets.token_hex(6)}"
            else:
                dockerfile_name = os.path.relpath(absolute, root).replace(os.sep, "/")
        else:
            dockerfile_name = "Dockerfile"
        local = _LocalContext(source, dockerfile_name, stdin_dockerfile, secrets_prefix)
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
    resp = _incremental_build(client, params, local) if local is not None else None
    if resp is None:
        if local is not None:  # not a dockyard daemon, or it dropped files meanwhile
            body = local.full_tar()
        resp = client._send("POST", "/build", params, data=body,  # noqa: SLF001 - the streaming build body
                            headers={"Content-Type": "application/x-tar"})
    from dockyard.cli.buildprogress import open_view
    from dockyard.client.api import iter_chunks, iter_json

    # The image tar of `-o type=tar,dest=-` owns stdout; the progress goes to stderr then.
    shown = cli.stderr if any(dest == "-" for _, dest in outputs) else cli.stdout
    view = open_view(opts.progress, shown) if not opts.quiet else None
    image_id = ""
    error: str | None = None
    try:
        for message in iter_json(iter_chunks(resp)):
            if "errorDetail" in message or "error" in message:
                error = str((message.get("errorDetail") or {}).get("message") or message.get("error"))
                break
            if "aux" in message:
                image_id = (message["aux"] or {}).get("ID", image_id)
            elif message.get("stream") and view is not None:
                view.write(message["stream"])
            elif message.get("stream") and not message["stream"].startswith("sha256:"):
                cli.stderr.write(message["stream"])  # -q: the daemon sends output only on failure
            elif message.get("status") and view is not None:
                view.status(message)
    finally:
        if view is not None:
            view.close(failed=error is not None or not image_id)
    if error is not None:
        raise StatusError(local.error if local is not None and local.error else error, 1)
    if opts.quiet and image_id:
        cli.stdout.write(image_id + "\n")
    if opts.iidfile and image_id:
        with open(opts.iidfile, "w") as f:
            f.write(image_id)
    for kind, dest in outputs:
        _export(cli, image_id, kind, dest)
    return 0


def cmd_builder_prune(cli: Cli, argv: list[str], path: str) -> int:
    opts, _ = PRUNE.with_path(path).parse(argv)
    warning = "WARNING! This will remove all build cache." if opts.all else \
        "WARNING! This will remove all dangling build cache."
    if not opts.force and not cli.confirm(warning, separator=" "):
        return 0
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

class _LocalContext:
    """A context directory, sent whole (`full_tar`, as Docker's CLI sends it) or as an
    incremental context (`manifest` and `partial_tar`, see builder/contextsync.py). Both
    walk the same members: the directory minus what `.dockerignore` (or
    `<Dockerfile>.dockerignore`) excludes, plus a Dockerfile read from stdin or from
    outside the directory (`dockerfile_bytes`)."""

    def __init__(self, root: str, dockerfile: str, dockerfile_bytes: bytes | None, prefix: bytes):
        from dockyard.builder.dockerignore import Matcher, read_patterns

        self.root, self.dockerfile, self.dockerfile_bytes, self.prefix = root, dockerfile, dockerfile_bytes, prefix
        # `<Dockerfile>.dockerignore` first, then `.dockerignore`; only the latter for a
        # Dockerfile from stdin or from outside the directory.
        names = [".dockerignore"] if dockerfile_bytes is not None else [dockerfile + ".dockerignore", ".dockerignore"]
        found = next((p for p in (Path(root, n) for n in names) if p.is_file()), None)
        self.matcher = Matcher(read_patterns(found.read_bytes()) if found else [])
        self.error = ""  # why the context could not be read in full, if it could not

    def full_tar(self) -> Any:
        """A readable pipe streaming the whole context tar (after the secrets)."""
        return self._pipe(self.prefix, None)

    def manifest(self) -> tuple[bytes, dict[str, str]]:
        """The manifest, and the client path of each regular file in it."""
        from dockyard.builder import contextsync

        items, paths = [], {}
        tf = tarfile.TarFile(fileobj=io.BytesIO(), mode="w")  # only for gettarinfo's hard-link table
        for info, full, st in self._members(tf):
            items.append(contextsync.item(info, contextsync.fingerprint(st)))
            if info.isreg():
                paths[info.name] = full
        if self.dockerfile_bytes is not None:
            # Its name is new on every build, so the daemon never holds it: always sent.
            items.append(contextsync.item(self._stdin_dockerfile(), ""))
        return contextsync.encode(items), paths

    def partial_tar(self, manifest: bytes, paths: dict[str, str], need: list[str]) -> Any:
        """A readable pipe streaming secrets, the manifest and only the files in `need`."""
        from dockyard.builder import contextsync

        wanted = [(name, paths[name]) for name in need if name in paths]
        return self._pipe(self.prefix + contextsync.manifest_member(manifest), wanted)

    # ── internals ─────────────────────────────────────────────────────────────────────

    def _pipe(self, prefix: bytes, only: list[tuple[str, str]] | None) -> Any:
        read_fd, write_fd = os.pipe()

        def produce() -> None:
            with os.fdopen(write_fd, "wb") as out:
                out.write(prefix)
                tf = tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT)  # type: ignore[call-overload]
                try:
                    if only is None:
                        for info, full, _st in self._members(tf):
                            self._add(tf, info, full)
                    else:
                        for name, full in only:
                            info = _tarinfo(tf, full, name)
                            if info.isreg():
                                self._add(tf, info, full)
                    if self.dockerfile_bytes is not None:
                        tf.addfile(self._stdin_dockerfile(), io.BytesIO(self.dockerfile_bytes))
                    tf.close()
                except OSError as e:
                    # The daemon went away (a broken pipe), or a file did while being read:
                    # the tar ends short, the daemon refuses it, and the build reports `error`.
                    if not isinstance(e, BrokenPipeError):
                        self.error = _context_error(e)
                    tf.fileobj.closed = True  # nothing more is written to the closed pipe

        threading.Thread(target=produce, daemon=True).start()
        return os.fdopen(read_fd, "rb")

    def _members(self, tf: tarfile.TarFile, rel: str = "") -> Any:
        """(tar header, path, lstat) of each member, parents first, sorted by name."""
        always = {self.dockerfile, ".dockerignore"}
        directory = os.path.join(self.root, rel) if rel else self.root
        for name in sorted(os.listdir(directory)):
            child = f"{rel}/{name}" if rel else name
            full = os.path.join(self.root, child)
            st = os.lstat(full)
            excluded = self.matcher and child not in always and self.matcher.excluded(child)
            if excluded and not (stat.S_ISDIR(st.st_mode) and self.matcher.may_contain_kept(child)):
                continue
            if not excluded:
                yield _tarinfo(tf, full, child), full, st
            if stat.S_ISDIR(st.st_mode):
                yield from self._members(tf, child)

    @staticmethod
    def _add(tf: tarfile.TarFile, info: tarfile.TarInfo, full: str) -> None:
        if info.isreg():
            with open(full, "rb") as f:
                tf.addfile(info, f)
        else:
            tf.addfile(info)

    def _stdin_dockerfile(self) -> tarfile.TarInfo:
        info = tarfile.TarInfo(self.dockerfile)
        info.size, info.mode = len(self.dockerfile_bytes or b""), 0o644
        return info


def _context_error(e: OSError) -> str:
    """Docker's wording for a context file that cannot be read."""
    return f"error checking context: {e.filename}: {e.strerror}" if e.filename else f"error checking context: {e}"


def _tarinfo(tf: tarfile.TarFile, full: str, name: str) -> tarfile.TarInfo:
    info = tf.gettarinfo(full, name)
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _incremental_build(client: Any, params: dict[str, Any], local: _LocalContext) -> Any:
    """`POST /build` with an incremental context (builder/contextsync.py): only the files
    the daemon does not hold from the last build of this directory are read and sent.
    None when the daemon does not offer it, or dropped files meanwhile: the caller then
    sends the whole context."""
    from dockyard.builder import contextsync
    from dockyard.client.api import _read_all
    from dockyard.client.errors import APIError

    key = contextsync.context_key(local.root)
    try:
        manifest, paths = local.manifest()
    except OSError as e:
        raise StatusError(_context_error(e), 1) from None
    try:
        answer = client._send("POST", "/dockyard/build/context", {"key": key}, data=manifest,  # noqa: SLF001
                              headers={"Content-Type": "application/json"})
        need = json.loads(_read_all(answer))["Need"]
    except APIError as e:
        if e.status in (404, 405):
            return None  # not a dockyard daemon (or an older one)
        raise
    body = local.partial_tar(manifest, paths, need)
    try:
        return client._send("POST", "/build", {**params, contextsync.QUERY: key}, data=body,  # noqa: SLF001
                            headers={"Content-Type": "application/x-tar"})
    except APIError as e:
        if e.status == 400 and contextsync.STALE in e.message:
            return None
        raise


def _stdin_context(cli: Cli, dockerfile_name: str, prefix: bytes) -> Any:
    """`build -`: stdin is a context archive (tar, gzip, bzip2, xz), or, as with Docker's
    CLI, a bare Dockerfile that becomes a context holding only itself."""
    src = cli.stdin.buffer if hasattr(cli.stdin, "buffer") else sys.stdin.buffer
    head = src.read(512)
    archive = (head[257:262] == b"ustar" or head.startswith((b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00"))
               or (len(head) == 512 and not head.strip(b"\0")))
    if archive:
        stream = _StdinReader(src, head)
        # Secrets must open the tar itself, so a compressed archive is sent decompressed.
        if not prefix:
            return stream
        from dockyard.builder.context import decompressed

        return _StdinReader(decompressed(stream), prefix)
    dockerfile = head + src.read()
    buffer = io.BytesIO(prefix)
    buffer.seek(len(prefix))
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tf:
        info = tarfile.TarInfo(dockerfile_name)
        info.size, info.mode = len(dockerfile), 0o644
        tf.addfile(info, io.BytesIO(dockerfile))
    return buffer.getvalue()


class _StdinReader:
    """stdin (or any stream), with bytes to give first: those already read to sniff it,
    or the secrets that open the context."""

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


def _secret_member(spec: str) -> bytes:
    """One `--secret` (BuildKit's syntax: `id=ID[,src|source=PATH][,env=VAR][,type=file|env]`;
    with neither src nor env, the variable named ID if set, else the file ID) as the
    member that carries it; b"" for an env secret whose variable is unset (the secret is
    then missing, as with BuildKit)."""
    from dockyard.builder.buildsecrets import MAX_SECRET_SIZE, member_bytes

    def invalid(reason: str) -> StatusError:
        return StatusError(f'invalid argument "{spec}" for "--secret" flag: {reason}', 125)

    fields: dict[str, str] = {}
    kind = ""
    for part in spec.split(","):
        key, eq, value = part.partition("=")
        key = key.strip().lower()
        if not eq:
            raise invalid(f"invalid field '{part}' must be a key=value pair")
        if key == "type":
            if value not in ("file", "env"):
                raise invalid(f'unsupported secret type "{value}"')
            kind = value
        elif key in ("id", "src", "source", "env"):
            fields["src" if key == "source" else key] = value
        else:
            raise invalid(f"unexpected key '{key}' in '{part}'")
    secret_id, src, env = fields.get("id", ""), fields.get("src", ""), fields.get("env", "")
    if not secret_id:
        raise invalid("secret missing ID")
    if kind == "env" and not env:
        env, src = src, ""
    if not src and not env:
        env, src = (secret_id, "") if secret_id in os.environ else ("", secret_id)
    if src:
        try:
            with open(src, "rb") as f:
                data = f.read(MAX_SECRET_SIZE + 1)
        except OSError as e:
            raise StatusError(f"failed to stat {src}: stat {src}: {(e.strerror or str(e)).lower()}", 1) from None
    elif env in os.environ:
        data = os.environ[env].encode()
    else:
        return b""
    try:
        return member_bytes(secret_id, data)
    except ValueError as e:
        raise StatusError(str(e), 1) from None


def _output_spec(spec: str) -> tuple[str, str]:
    """An `-o` value as (type, dest): `type=local,dest=DIR`, `type=tar,dest=FILE|-`, a
    bare directory, or `-` (a tar on stdout), checked before anything is built."""
    if spec == "-":
        return "tar", "-"
    fields = dict(_kv(p) for p in spec.split(",")) if "=" in spec else {"type": "local", "dest": spec}
    kind, dest = fields.get("type", "local"), fields.get("dest", "")
    if kind not in ("local", "tar"):
        raise StatusError(f"unsupported output type {kind!r}: use local or tar", 1)
    if not dest or (kind == "local" and dest == "-"):
        raise StatusError(f"output {spec!r} requires dest (a directory for local, a file or - for tar)", 1)
    return kind, dest


def _export(cli: Cli, image_id: str, kind: str, dest: str) -> None:
    """`-o type=local,dest=DIR` / `type=tar,dest=FILE`: the image's files, through a
    created (never started) container's export, as Docker's CLI would fetch them."""
    client = cli.client
    created = client.create_container({"Image": image_id, "Cmd": ["/nonexistent"]})
    cid = created["Id"]
    try:
        chunks = client.export(cid)
        if kind == "tar":
            # stdout is not ours to close.
            target = contextlib.nullcontext(sys.stdout.buffer) if dest == "-" else open(dest, "wb")
            with target as out:
                for chunk in chunks:
                    out.write(chunk)
                out.flush()
        elif kind == "local":
            os.makedirs(dest, exist_ok=True)
            reader = io.BufferedReader(_ChunkReader(chunks))  # type: ignore[arg-type]
            with tarfile.open(fileobj=reader, mode="r|") as tf:
                tf.extractall(dest, filter="tar")  # type: ignore[call-arg]
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
