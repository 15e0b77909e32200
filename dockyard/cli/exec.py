# SPDX-License-Identifier: Apache-2.0
"""`exec` and `attach`: joining a running container's processes and streams.

`exec` checks the container exists, creates the exec instance, starts it attached (or
detached with -d), copies the streams and exits with the process's exit code, read
back from the daemon — so a command that cannot be found exits 127 and one that cannot
be run 126, as the daemon records them. `attach` registers a wait first, checks the
container is running, attaches, and exits with the container's status; detaching with
the escape keys ends it with Docker's `read escape sequence` message.
"""

from __future__ import annotations

import os

from dockyard.cli.command import Cli, StatusError, parse_args
from dockyard.cli.parser import Command, Flag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

EXEC = Command(
    "exec",
    "[OPTIONS] CONTAINER COMMAND [ARG...]",
    "Execute a command in a running container",
    [
        Flag("detach", "d", help="Detached mode: run command in the background"),
        Flag("detach-keys", "", "string", help="Override the key sequence for detaching a container"),
        Flag("env", "e", "list", help="Set environment variables", validate=lambda v: _opts().validate_env(v)),
        Flag("env-file", "", "list", help="Read in a file of environment variables"),
        Flag("interactive", "i", help="Keep STDIN open even if not attached"),
        Flag("privileged", "", help="Give extended privileges to the command"),
        Flag("tty", "t", help="Allocate a pseudo-TTY"),
        Flag("user", "u", "string", help='Username or UID (format: "<name|uid>[:<group|gid>]")'),
        Flag("workdir", "w", "string", help="Working directory inside the container"),
    ],
    min_args=2,
    interspersed=False,
    aliases=["container exec", "exec"],
)

ATTACH = Command(
    "attach",
    "[OPTIONS] CONTAINER",
    "Attach local standard input, output, and error streams to a running container",
    [
        Flag("detach-keys", "", "string", help="Override the key sequence for detaching a container"),
        Flag("no-stdin", "", help="Do not attach STDIN"),
        Flag("sig-proxy", "", default=True, help="Proxy all received signals to the process"),
    ],
    min_args=1,
    max_args=1,
    aliases=["container attach", "attach"],
)


def cmd_exec(cli: Cli, argv: list[str], path: str) -> int:
    opts, args = parse_args(cli, EXEC.with_path(path), argv)
    container, command = args[0], args[1:]
    try:
        env = _opts().read_env(opts.env_file, list(opts.env), os.environ)
    except ValueError as exc:
        raise StatusError(str(exc), 1) from None
    config: dict[str, Any] = {
        "User": opts.user or "",
        "Privileged": bool(opts.privileged),
        "Tty": bool(opts.tty),
    }
    attach_stdin = bool(opts.interactive) and not opts.detach
    attach_output = not opts.detach
    config.update(
        {
            "AttachStdin": attach_stdin,
            "AttachStderr": attach_output,
            "AttachStdout": attach_output,
            "Detach": bool(opts.detach),
            "DetachKeys": opts.detach_keys or "",
            "Env": env or None,
            "WorkingDir": opts.workdir or "",
            "Cmd": command,
        }
    )
    client = cli.client
    client.inspect_container(container)
    if not opts.detach and attach_stdin and opts.tty and not _isatty(cli.stdin):
        raise StatusError("the input device is not a TTY", 1)
    console = None
    if opts.tty:
        from dockyard.cli.attach import terminal_size

        console = list(terminal_size(cli.stdout) or (0, 0))
        # ConsoleSize goes right after Tty, where Docker's JSON has it.
        items = list(config.items())
        items.insert(3, ("ConsoleSize", console))
        config = dict(items)
    exec_id = (client.exec_create(container, config) or {}).get("Id")
    if not exec_id:
        raise StatusError("exec ID empty", 1)
    start: dict[str, Any] = {"Detach": bool(opts.detach), "Tty": bool(opts.tty)}
    if console is not None:
        start["ConsoleSize"] = console
    if opts.detach:
        client.exec_start(exec_id, start)
        return 0
    return _interactive_exec(cli, exec_id, start, stdin=attach_stdin, detach_keys=opts.detach_keys)


def _interactive_exec(
    cli: Cli, exec_id: str, start: dict[str, Any], *, stdin: bool, detach_keys: str | None
) -> int:
    from dockyard.cli import attach

    client = cli.client
    tty = start["Tty"]
    keys = attach.parse_detach_keys(detach_keys)
    conn = client.exec_attach(exec_id, start)
    stop_resizing = (
        attach.follow_resizes(cli, lambda h, w: client.exec_resize(exec_id, h, w))
        if tty and _isatty(cli.stdin)
        else (lambda: None)
    )
    try:
        raw = attach.RawTerminal(cli.stdin) if (tty and stdin) else None
        if raw is not None:
            with raw:
                detached = attach.pump(cli, conn, tty=tty, stdin=stdin, detach_keys=keys)
        else:
            detached = attach.pump(cli, conn, tty=tty, stdin=stdin, detach_keys=keys)
    finally:
        stop_resizing()
        conn.close()
    if detached:
        raise StatusError("read escape sequence", 1)
    from dockyard.client.errors import DaemonUnavailable

    try:
        result = client.exec_inspect(exec_id)
    except DaemonUnavailable:
        return 255  # Docker's StatusError{StatusCode: -1}, as a shell sees it
    return int(result.get("ExitCode") or 0)


def cmd_attach(cli: Cli, argv: list[str], path: str) -> int:
    opts, args = parse_args(cli, ATTACH.with_path(path), argv)
    from dockyard.cli import attach

    name = args[0]
    client = cli.client
    waiter = client.wait_begin(name)
    info = _running(client, name)
    config = info.get("Config") or {}
    tty = bool(config.get("Tty"))
    if not opts.no_stdin and tty and not _isatty(cli.stdin):
        raise StatusError("the input device is not a TTY", 1)
    stdin = not opts.no_stdin and bool(config.get("OpenStdin"))
    stop_proxy = (
        attach.proxy_signals(lambda sig: client.kill(name, signal=sig))
        if opts.sig_proxy and not tty
        else (lambda: None)
    )
    try:
        conn = client.attach_socket(name, stdin=stdin, stdout=True, stderr=True, detach_keys=opts.detach_keys)
        try:
            _running(client, name)
            size = attach.terminal_size(cli.stdout) if tty else None
            if size is not None:
                # One size off first, then the real one: a full-screen program that is
                # already running redraws itself (Docker does the same).
                try:
                    client.resize(name, size[0] + 1, size[1] + 1)
                except _api_errors():
                    pass
            stop_resizing = (
                attach.follow_resizes(cli, lambda h, w: client.resize(name, h, w))
                if size is not None
                else (lambda: None)
            )
            try:
                keys = attach.parse_detach_keys(opts.detach_keys)
                raw = attach.RawTerminal(cli.stdin) if (tty and stdin) else None
                if raw is not None:
                    with raw:
                        detached = attach.pump(cli, conn, tty=tty, stdin=stdin, detach_keys=keys)
                else:
                    detached = attach.pump(cli, conn, tty=tty, stdin=stdin, detach_keys=keys)
            finally:
                stop_resizing()
        finally:
            conn.close()
    finally:
        stop_proxy()
    if detached:
        raise StatusError("read escape sequence", 1)
    result = waiter.result()
    error = (result.get("Error") or {}).get("Message")
    if error:
        raise StatusError(error, 1)
    return int(result.get("StatusCode") or 0)


def _running(client: Any, name: str) -> dict[str, Any]:
    info = client.inspect_container(name)
    state = info.get("State") or {}
    if not state.get("Running"):
        raise StatusError("You cannot attach to a stopped container, start it first", 1)
    if state.get("Paused"):
        raise StatusError("You cannot attach to a paused container, unpause it first", 1)
    if state.get("Restarting"):
        raise StatusError("You cannot attach to a restarting container, wait until it is running", 1)
    return info


def _isatty(stream: Any) -> bool:
    try:
        return os.isatty(stream.fileno())
    except (AttributeError, ValueError, OSError):
        return False


def _api_errors() -> tuple[type[BaseException], ...]:
    from dockyard.client.errors import APIError

    return (APIError,)


def _opts() -> Any:
    from dockyard.cli import opts

    return opts
