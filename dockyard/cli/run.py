# SPDX-License-Identifier: Apache-2.0
"""`run` and `create` (and `start -a`): create, pull if missing, attach, wait, start.

The order is Docker's. `run` creates the container (on "No such image" it pulls it,
showing progress on stderr, and creates again), attaches to its stdio, registers a wait
(`next-exit`, or `removed` with --rm) *before* starting so a fast exit cannot be missed,
starts it, copies the streams and exits with the container's status. `run -d` prints
the ID, registers the wait and starts. Failures before the container runs exit 125, or
126/127 when the daemon says the command cannot be executed or found — the codes shells
use — with Docker's `<prog>: <error>` message and help hint.
"""

from __future__ import annotations

import os
from types import SimpleNamespace

from dockyard.cli.command import Cli, StatusError, parse_args
from dockyard.cli.parser import PROG, Command
from dockyard.cli.runconfig import FlagError, build_create_body, run_flags

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

RUN = Command(
    "run",
    "[OPTIONS] IMAGE [COMMAND] [ARG...]",
    "Create and run a new container from an image",
    run_flags(run=True),
    min_args=1,
    interspersed=False,
    aliases=["container run", "run"],
)

CREATE = Command(
    "create",
    "[OPTIONS] IMAGE [COMMAND] [ARG...]",
    "Create a new container",
    run_flags(run=False),
    min_args=1,
    interspersed=False,
    aliases=["container create", "create"],
)


class CreateError(Exception):
    """A failure of the create step found on our side (cidfile, image reference...)."""


def cmd_run(cli: Cli, argv: list[str], path: str) -> int:
    spec = RUN.with_path(path)
    opts, args = parse_args(cli, spec, argv)
    _check_pull_option(opts, "run")
    body = _body(cli, opts, args, "run", detach=opts.detach)
    if not opts.detach:
        if body["Tty"] and body["AttachStdin"] and not _isatty(cli.stdin):
            raise StatusError("the input device is not a TTY", 1)
    elif opts.attach:
        raise StatusError("conflicting options: cannot specify both --attach and --detach", 1)
    try:
        container_id = create(cli, body, opts)
    except (CreateError, *_api_errors()) as exc:
        raise run_error(exc, "run") from None
    return _run_created(cli, container_id, body, opts)


def cmd_create(cli: Cli, argv: list[str], path: str) -> int:
    spec = CREATE.with_path(path)
    opts, args = parse_args(cli, spec, argv)
    _check_pull_option(opts, "create")
    body = _body(cli, opts, args, "create", detach=False)
    try:
        container_id = create(cli, body, opts)
    except CreateError as exc:
        raise StatusError(str(exc), 1) from None
    cli.out(container_id)
    return 0


def exit_code_for(message: str) -> int:
    """Docker CLI's status for a failed run: 127 not found, 126 not runnable, else 125."""
    if (
        "executable file not found" in message
        or "no such file or directory" in message
        or "system cannot find the file specified" in message
    ):
        return 127
    if "permission denied" in message or "is a directory" in message:
        return 126
    return 125


def run_error(exc: BaseException, command: str = "run") -> StatusError:
    """`dockyard: <error>` plus the help hint, with Docker's exit code for it."""
    message = str(exc)
    return StatusError(
        f"{PROG}: {message}\n\nRun '{PROG} {command} --help' for more information",
        exit_code_for(message),
    )


def create(cli: Cli, body: dict[str, Any], opts: SimpleNamespace) -> str:
    """Docker's createContainer: cidfile, pull policy, create (pulling a missing image
    and retrying), warnings; returns the new container's ID."""
    from dockyard.client.errors import APIError

    cidfile = _CidFile(opts.cidfile)
    try:
        image = body["Image"]
        named = _named_reference(image)
        platform = opts.platform or None
        if platform:
            _check_platform(platform)
        policy = opts.pull or "missing"
        if policy == "always":
            _pull(cli, image, opts)
        console = _terminal_size(cli.stdout)
        if console is not None:
            body["HostConfig"]["ConsoleSize"] = list(console)
        try:
            result = cli.client.create_container(body, name=opts.name, platform=platform)
        except APIError as exc:
            if not (exc.status == 404 and named is not None and policy == "missing"):
                raise
            if not opts.quiet:
                cli.err(f"Unable to find image '{named}' locally")
            _pull(cli, image, opts)
            result = cli.client.create_container(body, name=opts.name, platform=platform)
        warnings = list(result.get("Warnings") or [])
        warning = _localhost_dns_warning(body["HostConfig"].get("Dns") or [])
        if warning:
            warnings.append(warning)
        for text in warnings:
            cli.err(f"WARNING: {text}")
        container_id = result["Id"]
        cidfile.write(container_id)
        return container_id
    finally:
        cidfile.close()


def start_attached(
    cli: Cli, container: str, *, stdin: bool = False, detach_keys: str | None = None
) -> int:
    """`start -a [-i]`: inspect, attach, wait, start, copy streams; the exit status."""
    info = cli.client.inspect_container(container)
    config = info.get("Config") or {}
    host_config = info.get("HostConfig") or {}
    return _attach_and_run(
        cli,
        info.get("Id", container),
        tty=bool(config.get("Tty")),
        stdin=stdin and bool(config.get("OpenStdin")),
        stdout=True,
        stderr=True,
        auto_remove=bool(host_config.get("AutoRemove")),
        detach_keys=detach_keys,
        sig_proxy=not config.get("Tty"),
        start_error=lambda exc: exc,
    )


# --- the run flow -----------------------------------------------------------------------


def _run_created(cli: Cli, container_id: str, body: dict[str, Any], opts: SimpleNamespace) -> int:
    stdin, stdout, stderr = body["AttachStdin"], body["AttachStdout"], body["AttachStderr"]
    auto_remove = body["HostConfig"]["AutoRemove"]
    if not (stdin or stdout or stderr):
        cli.out(container_id)
        waiter = cli.client.wait_begin(container_id, "removed" if auto_remove else "next-exit")
        try:
            cli.client.start(container_id)
        except _api_errors() as exc:
            if auto_remove:
                _quiet_result(waiter)
            raise run_error(exc, "run") from None
        return 0
    return _attach_and_run(
        cli,
        container_id,
        tty=body["Tty"],
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        auto_remove=auto_remove,
        detach_keys=opts.detach_keys,
        sig_proxy=bool(opts.sig_proxy),
        start_error=lambda exc: run_error(exc, "run"),
    )


def _attach_and_run(
    cli: Cli,
    container_id: str,
    *,
    tty: bool,
    stdin: bool,
    stdout: bool,
    stderr: bool,
    auto_remove: bool,
    detach_keys: str | None,
    sig_proxy: bool,
    start_error: Any,
) -> int:
    from dockyard.cli import attach

    keys = attach.parse_detach_keys(detach_keys)
    client = cli.client
    stop_proxy = (
        attach.proxy_signals(lambda sig: client.kill(container_id, signal=sig))
        if sig_proxy
        else (lambda: None)
    )
    try:
        conn = client.attach_socket(
            container_id, stdin=stdin, stdout=stdout, stderr=stderr, detach_keys=detach_keys
        )
        try:
            waiter = client.wait_begin(container_id, "removed" if auto_remove else "next-exit")
            try:
                client.start(container_id)
            except _api_errors() as exc:
                if auto_remove:
                    _quiet_result(waiter)
                raise start_error(exc) from None
            stop_resizing = (
                attach.follow_resizes(cli, lambda h, w: client.resize(container_id, h, w))
                if tty and attach.terminal_size(cli.stdout) is not None
                else (lambda: None)
            )
            try:
                raw = attach.RawTerminal(cli.stdin) if (tty and stdin) else None
                if raw is not None:
                    with raw:
                        detached = attach.pump(
                            cli, conn, tty=tty, stdin=stdin, detach_keys=keys, stdout=stdout, stderr=stderr
                        )
                else:
                    detached = attach.pump(
                        cli, conn, tty=tty, stdin=stdin, detach_keys=keys, stdout=stdout, stderr=stderr
                    )
                if detached:
                    return 0
                result = waiter.result()
            finally:
                stop_resizing()
        finally:
            conn.close()
    finally:
        stop_proxy()
    error = (result.get("Error") or {}).get("Message")
    if error:
        cli.err(f"Error waiting for container: {error}")
        return 125
    return int(result.get("StatusCode", 0))


def _quiet_result(waiter: Any) -> None:
    try:
        waiter.result(timeout=30)
    except Exception:
        pass


def _body(
    cli: Cli, opts: SimpleNamespace, args: list[str], command: str, detach: bool
) -> dict[str, Any]:
    try:
        return build_create_body(opts, args, detach=detach)
    except FlagError as exc:
        raise StatusError(
            f"{PROG}: {exc}\n\nRun '{PROG} {command} --help' for more information", 125
        ) from None


def _check_pull_option(opts: SimpleNamespace, command: str) -> None:
    if opts.pull not in ("always", "missing", "never", ""):
        raise StatusError(
            f"{PROG}: invalid pull option: '{opts.pull}': must be one of \"always\", \"missing\" or \"never\""
            f"\n\nRun '{PROG} {command} --help' for more information",
            125,
        )


def _named_reference(image: str) -> str | None:
    """The familiar `name:tag` of a named image reference, None for an image ID;
    raises CreateError with Docker's message for a malformed reference."""
    import re

    if re.fullmatch(r"(sha256:)?[a-f0-9]{64}", image):
        return None
    from dockyard.distribution import reference
    from dockyard.errors import DockyardError

    try:
        ref = reference.parse(image)
    except DockyardError as exc:
        raise CreateError(exc.message) from None
    familiar = reference.familiar(ref)
    if ref.tag is None and ref.digest is None:
        familiar += ":latest"
    return familiar


def _check_platform(platform: str) -> None:
    parts = platform.split("/")
    ok = 1 <= len(parts) <= 3 and all(p and p.replace("_", "").replace("-", "").isalnum() for p in parts)
    if not ok:
        raise CreateError(
            f'error parsing specified platform: "{platform}": cannot parse platform specifier: invalid argument'
        )


def _localhost_dns_warning(servers: list[str]) -> str:
    import ipaddress

    for server in servers:
        try:
            address = ipaddress.ip_address(server)
        except ValueError:
            continue
        if address.is_loopback:
            return f"Localhost DNS ({address}) may fail in containers."
    return ""


def _pull(cli: Cli, image: str, opts: SimpleNamespace) -> None:
    from dockyard.cli.images import pull_image
    from dockyard.cli.progress import StreamError
    from dockyard.distribution import reference

    ref = reference.parse(image)
    try:
        pull_image(cli, f"{ref.domain}/{ref.path}", ref.digest or ref.tag or "latest", opts.platform or None,
                   quiet=opts.quiet, out=cli.stderr)
    except StreamError as exc:
        raise CreateError(exc.message) from None


class _CidFile:
    """--cidfile: refused if it exists, created before the container, removed if unused."""

    def __init__(self, path: str | None):
        self.path = path
        self.handle: Any = None
        self.written = False
        if not path:
            return
        if os.path.lexists(path):
            raise CreateError(
                f"container ID file found, make sure the other container isn't running or delete {path}"
            )
        try:
            self.handle = open(path, "w")
        except OSError as exc:
            raise CreateError(
                f"failed to create the container ID file: open {path}: {(exc.strerror or '').lower()}"
            ) from None

    def write(self, container_id: str) -> None:
        if self.handle is not None:
            self.handle.write(container_id)
            self.written = True

    def close(self) -> None:
        if self.handle is None:
            return
        self.handle.close()
        self.handle = None
        if not self.written:
            try:
                os.remove(self.path or "")
            except OSError:
                pass


def _terminal_size(stream: Any) -> tuple[int, int] | None:
    from dockyard.cli.attach import terminal_size

    return terminal_size(stream)


def _isatty(stream: Any) -> bool:
    try:
        return os.isatty(stream.fileno())
    except (AttributeError, ValueError, OSError):
        return False


def _api_errors() -> tuple[type[BaseException], ...]:
    from dockyard.client.errors import APIError

    return (APIError,)
