# SPDX-License-Identifier: Apache-2.0
"""`run` and `create` (and `start -a`): create, pull if missing, attach, wait, start.

The order is Docker's. For a foreground `run`: create the container (on "No such image"
pull it, showing progress on stderr, and create again), attach to its stdio, register a
wait (`next-exit`, or `removed` with --rm) *before* starting so a fast exit cannot be
missed, start, copy the streams, and exit with the container's status. Failures before
the container runs exit 125, or 126/127 when the daemon says the command cannot be
executed or found — the codes shells use — with Docker's `<prog>: <error>` message.
"""

from __future__ import annotations

import os
from types import SimpleNamespace
from typing import Any

from dockyard.cli.command import Cli, StatusError
from dockyard.cli.parser import PROG, Command
from dockyard.cli.runconfig import FlagError, build_create_body, run_flags

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


def cmd_run(cli: Cli, argv: list[str], path: str) -> int:
    spec = RUN.with_path(path)
    opts, args = spec.parse(argv)
    try:
        return _run(cli, spec, opts, args)
    except StatusError:
        raise
    except _api_errors() as exc:
        raise run_error(exc, spec) from None


def cmd_create(cli: Cli, argv: list[str], path: str) -> int:
    spec = CREATE.with_path(path)
    opts, args = spec.parse(argv)
    try:
        body = _body(cli, spec, opts, args, detach=False)
        container_id = create(cli, body, opts)
    except StatusError:
        raise
    except _api_errors() as exc:
        raise run_error(exc, spec) from None
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


def run_error(exc: BaseException, spec: Command) -> StatusError:
    """`dockyard: Error response from daemon: ...` plus the help hint, with its exit code."""
    message = str(exc)
    return StatusError(
        f"{PROG}: {message}\n\nRun '{PROG} {spec.path} --help' for more information",
        exit_code_for(message),
    )


def create(cli: Cli, body: dict[str, Any], opts: SimpleNamespace) -> str:
    """Create the container, pulling its image first if needed; returns the ID."""
    from dockyard.client.errors import APIError

    image = body["Image"]
    pull_policy = (opts.pull or "missing").lower()
    if pull_policy not in ("always", "missing", "never"):
        raise StatusError(
            f'{PROG}: invalid pull option: \'{opts.pull}\': must be one of "always", "missing" or "never"',
            125,
        )
    if pull_policy == "always":
        _pull(cli, image, opts)
    try:
        result = cli.client.create_container(body, name=opts.name, platform=opts.platform)
    except APIError as exc:
        if not (exc.status == 404 and "image" in exc.message.lower()) or pull_policy != "missing":
            raise
        cli.err(f"Unable to find image '{_tagged(image)}' locally")
        _pull(cli, image, opts)
        result = cli.client.create_container(body, name=opts.name, platform=opts.platform)
    for warning in result.get("Warnings") or []:
        cli.err(f"WARNING: {warning}")
    return result["Id"]


def start_attached(
    cli: Cli, container: str, *, stdin: bool = False, detach_keys: str | None = None
) -> int:
    """`start -a [-i]`: attach, wait, start, copy streams; the container's exit status."""
    info = cli.client.inspect_container(container)
    config = info.get("Config") or {}
    host_config = info.get("HostConfig") or {}
    attach_stdin = stdin and bool(config.get("OpenStdin"))
    return _attach_and_run(
        cli,
        info.get("Id", container),
        tty=bool(config.get("Tty")),
        stdin=attach_stdin,
        stdout=True,
        stderr=True,
        auto_remove=bool(host_config.get("AutoRemove")),
        detach_keys=detach_keys,
        sig_proxy=True,
    )


# --- the run flow -----------------------------------------------------------------------


def _run(cli: Cli, spec: Command, opts: SimpleNamespace, args: list[str]) -> int:
    body = _body(cli, spec, opts, args, detach=opts.detach)
    container_id = create(cli, body, opts)
    if opts.detach:
        cli.client.start(container_id)
        cli.out(container_id)
        return 0
    return _attach_and_run(
        cli,
        container_id,
        tty=body["Tty"],
        stdin=body["AttachStdin"],
        stdout=body["AttachStdout"],
        stderr=body["AttachStderr"],
        auto_remove=body["HostConfig"]["AutoRemove"],
        detach_keys=opts.detach_keys,
        sig_proxy=opts.sig_proxy and not body["Tty"],
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
) -> int:
    from dockyard.cli import attach

    keys = attach.parse_detach_keys(detach_keys)
    client = cli.client
    conn = None
    if stdin or stdout or stderr:
        conn = client.attach_socket(
            container_id, stdin=stdin, stdout=stdout, stderr=stderr, detach_keys=detach_keys
        )
    try:
        waiter = client.wait_begin(container_id, "removed" if auto_remove else "next-exit")
        try:
            client.start(container_id)
        except _api_errors() as exc:
            # Docker removes nothing here; with --rm the daemon cleans up on its own.
            raise StatusError(
                f"{PROG}: {exc}\n\nRun '{PROG} run --help' for more information",
                exit_code_for(str(exc)),
            ) from None
        stop_resizing = (
            attach.follow_resizes(cli, lambda h, w: client.resize(container_id, h, w))
            if tty
            else (lambda: None)
        )
        stop_proxy = (
            attach.proxy_signals(lambda sig: client.kill(container_id, signal=sig))
            if sig_proxy
            else (lambda: None)
        )
        try:
            if conn is not None:
                raw = attach.RawTerminal(cli.stdin) if (tty and stdin) else None
                if raw is not None:
                    with raw:
                        detached = attach.pump(cli, conn, tty=tty, stdin=stdin, detach_keys=keys)
                else:
                    detached = attach.pump(cli, conn, tty=tty, stdin=stdin, detach_keys=keys)
                if detached:
                    return 0
            result = waiter.result()
        finally:
            stop_resizing()
            stop_proxy()
    finally:
        if conn is not None:
            conn.close()
    error = (result.get("Error") or {}).get("Message")
    if error:
        cli.err(f"{PROG}: {error}")
        return 125
    return int(result.get("StatusCode", 0))


def _body(
    cli: Cli, spec: Command, opts: SimpleNamespace, args: list[str], detach: bool
) -> dict[str, Any]:
    from dockyard.cli.attach import terminal_size

    console = terminal_size(cli.stdout) if opts.tty else None
    try:
        body = build_create_body(opts, args, detach=detach, console_size=console)
    except FlagError as exc:
        raise StatusError(
            f"{PROG}: {exc}\n\nRun '{PROG} {spec.path} --help' for more information", 125
        ) from None
    if spec.path.endswith("run") and opts.tty and body["AttachStdin"] and not _isatty(cli.stdin):
        raise StatusError(f"{PROG}: the input device is not a TTY", 1)
    return body


def _pull(cli: Cli, image: str, opts: SimpleNamespace) -> None:
    from dockyard.cli.images import pull_image, split_reference

    name, tag, digest = split_reference(image)
    pull_image(
        cli,
        name,
        digest or tag or "latest",
        platform=opts.platform,
        quiet=opts.quiet,
        out=cli.stderr,
    )


def _tagged(image: str) -> str:
    from dockyard.cli.images import split_reference

    _, tag, digest = split_reference(image)
    return image if (tag or digest) else f"{image}:latest"


def _isatty(stream: Any) -> bool:
    try:
        return os.isatty(stream.fileno())
    except (AttributeError, ValueError, OSError):
        return False


def _api_errors() -> tuple[type[BaseException], ...]:
    from dockyard.client.errors import APIError

    return (APIError,)
