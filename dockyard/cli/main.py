# SPDX-License-Identifier: Apache-2.0
"""The `dockyard` command: global options, then one of Docker's verbs.

Startup cost matters (`dockyard ps` is typed all day), so this module imports only the
flag parser and the error types; each command's module, and with it http.client, is
imported when that command runs.
"""

from __future__ import annotations

import importlib
import sys

from dockyard.cli.command import Cli, StatusError
from dockyard.cli.parser import PROG, HelpRequested, UsageError
from dockyard.client.errors import APIError, ClientError, DaemonUnavailable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

# name → (module, function, summary). The function takes (cli, argv, path).
COMMANDS: dict[str, tuple[str, str, str]] = {
    "run": ("dockyard.cli.run", "cmd_run", "Create and run a new container from an image"),
    "create": ("dockyard.cli.run", "cmd_create", "Create a new container"),
    "ps": ("dockyard.cli.containers", "cmd_ps", "List containers"),
    "start": ("dockyard.cli.containers", "cmd_start", "Start one or more stopped containers"),
    "stop": ("dockyard.cli.containers", "cmd_stop", "Stop one or more running containers"),
    "restart": ("dockyard.cli.containers", "cmd_restart", "Restart one or more containers"),
    "kill": ("dockyard.cli.containers", "cmd_kill", "Kill one or more running containers"),
    "rm": ("dockyard.cli.containers", "cmd_rm", "Remove one or more containers"),
    "logs": ("dockyard.cli.containers", "cmd_logs", "Fetch the logs of a container"),
    "wait": (
        "dockyard.cli.containers",
        "cmd_wait",
        "Block until one or more containers stop, then print their exit codes",
    ),
    "pause": (
        "dockyard.cli.containers",
        "cmd_pause",
        "Pause all processes within one or more containers",
    ),
    "unpause": (
        "dockyard.cli.containers",
        "cmd_unpause",
        "Unpause all processes within one or more containers",
    ),
    "rename": ("dockyard.cli.containers", "cmd_rename", "Rename a container"),
    "update": (
        "dockyard.cli.containers",
        "cmd_update",
        "Update configuration of one or more containers",
    ),
    "port": (
        "dockyard.cli.containers",
        "cmd_port",
        "List port mappings or a specific mapping for the container",
    ),
    "top": ("dockyard.cli.containers", "cmd_top", "Display the running processes of a container"),
    "diff": (
        "dockyard.cli.containers",
        "cmd_diff",
        "Inspect changes to files or directories on a container's filesystem",
    ),
    "export": (
        "dockyard.cli.containers",
        "cmd_export",
        "Export a container's filesystem as a tar archive",
    ),
    "commit": (
        "dockyard.cli.containers",
        "cmd_commit",
        "Create a new image from a container's changes",
    ),
    "exec": ("dockyard.cli.exec", "cmd_exec", "Execute a command in a running container"),
    "attach": (
        "dockyard.cli.exec",
        "cmd_attach",
        "Attach local standard input, output, and error streams to a running container",
    ),
    "cp": (
        "dockyard.cli.cp",
        "cmd_cp",
        "Copy files/folders between a container and the local filesystem",
    ),
    "stats": (
        "dockyard.cli.stats",
        "cmd_stats",
        "Display a live stream of container(s) resource usage statistics",
    ),
    "events": ("dockyard.cli.events", "cmd_events", "Get real time events from the server"),
    "container prune": (
        "dockyard.cli.containers",
        "cmd_container_prune",
        "Remove all stopped containers",
    ),
    "inspect": (
        "dockyard.cli.inspect",
        "cmd_inspect",
        "Return low-level information on Docker objects",
    ),
    "images": ("dockyard.cli.images", "cmd_images", "List images"),
    "pull": ("dockyard.cli.images", "cmd_pull", "Download an image from a registry"),
    "rmi": ("dockyard.cli.images", "cmd_rmi", "Remove one or more images"),
    "tag": (
        "dockyard.cli.images",
        "cmd_tag",
        "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
    ),
    "import": (
        "dockyard.cli.images",
        "cmd_import",
        "Import the contents from a tarball to create a filesystem image",
    ),
    "save": (
        "dockyard.cli.images",
        "cmd_save",
        "Save one or more images to a tar archive (streamed to STDOUT by default)",
    ),
    "load": ("dockyard.cli.images", "cmd_load", "Load an image from a tar archive or STDIN"),
    "build": ("dockyard.cli.build", "cmd_build", "Build an image from a Dockerfile"),
    "builder prune": ("dockyard.cli.build", "cmd_builder_prune", "Remove build cache"),
    "push": ("dockyard.cli.registry", "cmd_push", "Upload an image to a registry"),
    "login": ("dockyard.cli.registry", "cmd_login", "Log in to a registry"),
    "logout": ("dockyard.cli.registry", "cmd_logout", "Log out from a registry"),
    "search": ("dockyard.cli.registry", "cmd_search", "Search a registry for images"),
    "history": ("dockyard.cli.history", "cmd_history", "Show the history of an image"),
    "image prune": ("dockyard.cli.history", "cmd_image_prune", "Remove unused images"),
    "image bootstrap": ("dockyard.cli.bootstrap", "cmd_image_bootstrap",
                        "Build official-image stand-ins from Debian packages"),
    "registry serve": ("dockyard.cli.registry", "cmd_registry_serve", "Run an OCI distribution registry"),
    "registry gc": ("dockyard.cli.registry", "cmd_registry_gc", "Delete blobs no manifest of a registry needs"),
    "version": ("dockyard.cli.system", "cmd_version", "Show the dockyard version information"),
    "compose": ("dockyard.cli.compose", "cmd_compose", "Define and run multi-container applications"),
    "info": ("dockyard.cli.system", "cmd_info", "Display system-wide information"),
    "system df": ("dockyard.cli.df", "cmd_df", "Show docker disk usage"),
    "system prune": ("dockyard.cli.sysprune", "cmd_system_prune", "Remove unused data"),
    "system fsck": ("dockyard.cli.fsck", "cmd_fsck", "Check the store's consistency, and repair it"),
    # Reached only through their group (`dockyard volume ls`), so left out of the help's
    # top-level list.
    "volume create": ("dockyard.cli.volume", "cmd_create", "Create a volume"),
    "volume inspect": (
        "dockyard.cli.volume",
        "cmd_inspect",
        "Display detailed information on one or more volumes",
    ),
    "volume ls": ("dockyard.cli.volume", "cmd_ls", "List volumes"),
    "volume prune": ("dockyard.cli.volume", "cmd_prune", "Remove unused local volumes"),
    "volume rm": ("dockyard.cli.volume", "cmd_rm", "Remove one or more volumes"),
    "network connect": ("dockyard.cli.network", "cmd_connect", "Connect a container to a network"),
    "network create": ("dockyard.cli.network", "cmd_create", "Create a network"),
    "network disconnect": (
        "dockyard.cli.network",
        "cmd_disconnect",
        "Disconnect a container from a network",
    ),
    "network inspect": (
        "dockyard.cli.network",
        "cmd_inspect",
        "Display detailed information on one or more networks",
    ),
    "network ls": ("dockyard.cli.network", "cmd_ls", "List networks"),
    "network prune": ("dockyard.cli.network", "cmd_prune", "Remove all unused networks"),
    "network rm": ("dockyard.cli.network", "cmd_rm", "Remove one or more networks"),
}

# `dockyard container X` / `dockyard image X` → the top-level command of the same meaning.
GROUPS: dict[str, tuple[str, dict[str, str]]] = {
    "container": (
        "Manage containers",
        {
            "ls": "ps",
            "list": "ps",
            "ps": "ps",
            "run": "run",
            "create": "create",
            "start": "start",
            "stop": "stop",
            "restart": "restart",
            "kill": "kill",
            "rm": "rm",
            "remove": "rm",
            "logs": "logs",
            "wait": "wait",
            "inspect": "container inspect",
            "attach": "attach",
            "commit": "commit",
            "cp": "cp",
            "diff": "diff",
            "exec": "exec",
            "export": "export",
            "pause": "pause",
            "port": "port",
            "prune": "container prune",
            "rename": "rename",
            "stats": "stats",
            "top": "top",
            "unpause": "unpause",
            "update": "update",
        },
    ),
    "system": ("Manage Docker", {"df": "system df", "events": "events", "info": "info", "prune": "system prune",
                                 "fsck": "system fsck"}),
    "image": (
        "Manage images",
        {
            "ls": "images",
            "list": "images",
            "inspect": "image inspect",
            "rm": "rmi",
            "remove": "rmi",
            "tag": "tag",
            "import": "import",
            "save": "save",
            "load": "load",
            "pull": "pull",
            "push": "push",
            "history": "history",
            "build": "build",
            "prune": "image prune",
            "bootstrap": "image bootstrap",
        },
    ),
    "registry": ("Run a registry", {"serve": "registry serve", "gc": "registry gc"}),
    "builder": ("Manage builds", {"build": "build", "prune": "builder prune"}),
    "volume": (
        "Manage volumes",
        {
            "create": "volume create",
            "inspect": "volume inspect",
            "ls": "volume ls",
            "list": "volume ls",
            "prune": "volume prune",
            "rm": "volume rm",
            "remove": "volume rm",
        },
    ),
    "network": (
        "Manage networks",
        {
            "connect": "network connect",
            "create": "network create",
            "disconnect": "network disconnect",
            "inspect": "network inspect",
            "ls": "network ls",
            "list": "network ls",
            "prune": "network prune",
            "rm": "network rm",
            "remove": "network rm",
        },
    ),
}

# Typed-specific inspect commands share the inspect module.
_SPECIAL = {
    "container inspect": ("dockyard.cli.inspect", "cmd_container_inspect"),
    "image inspect": ("dockyard.cli.inspect", "cmd_image_inspect"),
}

COMMON = ["run", "exec", "ps", "pull", "images", "version", "info"]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `dockyard` script; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        status = _main(args)
    except KeyboardInterrupt:
        status = 130
    except BrokenPipeError:
        # `dockyard ps | head`: the reader went away; say nothing, as Docker does.
        _silence_stdout()
        status = 0
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
    return status


def _main(args: list[str]) -> int:
    host: str | None = None
    context: str | None = None
    debug = False
    tls = False
    tls_verify: bool | None = None
    tls_files: dict[str, str] = {}
    i = 0
    while i < len(args) and args[i].startswith("-") and args[i] != "-":
        arg = args[i]
        i += 1
        name, eq, inline = arg.partition("=")
        if name in ("-H", "--host"):
            host, i = _flag_value(args, i, eq, inline)
            if host is None:
                return _usage_failure("flag needs an argument: 'H' in -H")
        elif arg.startswith("-H") and len(arg) > 2:
            host = arg[2:]
        elif arg in ("-D", "--debug"):
            debug = True
        elif name in ("--tls", "--tlsverify"):
            value = _bool_value(inline) if eq else True
            if value is None:
                return _usage_failure(f'invalid argument "{inline}" for "{name}" flag')
            if name == "--tls":
                tls = value
            else:
                tls_verify = value
        elif name in ("--tlscacert", "--tlscert", "--tlskey"):
            if eq:
                tls_files[name[2:]] = inline
            elif i < len(args):
                tls_files[name[2:]] = args[i]
                i += 1
            else:
                return _usage_failure(f"flag needs an argument: {name}")
        elif arg in ("-v", "--version"):
            from dockyard.cli.system import version_line

            print(version_line())
            return 0
        elif arg in ("-h", "--help"):
            sys.stdout.write(help_text())
            return 0
        elif name in ("-c", "--context"):
            context, i = _flag_value(args, i, eq, inline)
            if context is None:
                return _usage_failure(f"flag needs an argument: {name}")
        elif name in ("-l", "--log-level", "--config"):
            # Accepted for compatibility with scripts written for docker; they do not apply.
            if not eq:
                i += 1
        elif arg == "--":
            break
        elif arg.startswith("--"):
            return _usage_failure(f"unknown flag: {name}")
        else:
            return _usage_failure(f"unknown shorthand flag: '{arg[1]}' in {arg}")
    rest = args[i:]
    if not rest:
        sys.stdout.write(help_text())
        return 0
    from dockyard.client.hosts import resolve_tls

    options = resolve_tls(tls, tls_verify, tls_files.get("tlscacert"), tls_files.get("tlscert"),
                          tls_files.get("tlskey"))
    from dockyard.client.hosts import context_host

    if context is not None and host:
        sys.stderr.write("Conflicting options: either specify --host or --context, not both\n")
        return 1
    try:
        host = host or context_host(context)
    except LookupError as e:
        sys.stderr.write(f"Failed to initialize: {e}\n")
        return 1
    cli = Cli(host=host, debug=debug, tls=options)
    return dispatch(cli, rest)


def _flag_value(args: list[str], i: int, eq: str, inline: str) -> tuple[str | None, int]:
    """A global flag's value (`--flag=v` or `--flag v`) and the index after it."""
    if eq:
        return inline, i
    if i < len(args):
        return args[i], i + 1
    return None, i


def dispatch(cli: Cli, args: list[str]) -> int:
    """Run the command named by `args[0]` (and `args[1]` for `container`/`image`)."""
    word, rest = args[0], args[1:]
    if word == "help":  # `docker help [COMMAND]`
        if not rest:
            cli.stdout.write(help_text())
            return 0
        return dispatch(cli, [*rest, "--help"])
    if word == "daemon":
        # The daemon is a separate program; `dockyard daemon` is a convenience alias.
        daemon_main = importlib.import_module("dockyard.daemon.main").main
        result = daemon_main(rest)
        return int(result or 0)
    if word in GROUPS:
        summary, subcommands = GROUPS[word]
        if not rest or rest[0] in ("-h", "--help"):
            cli.stdout.write(_group_help(word, summary, subcommands))
            return 0
        target = subcommands.get(rest[0])
        if target is None:
            cli.err(f"{PROG}: unknown command: {PROG} {word} {rest[0]}\n")
            cli.err(f"Run '{PROG} {word} --help' for more information")
            return 1
        return _run(cli, target, rest[1:], f"{word} {rest[0]}")
    if word not in COMMANDS:
        cli.err(f"{PROG}: unknown command: {PROG} {word}\n")
        cli.err(f"Run '{PROG} --help' for more information")
        return 1
    return _run(cli, word, rest, word)


def _run(cli: Cli, name: str, argv: list[str], path: str) -> int:
    if name in _SPECIAL:
        module_name, function = _SPECIAL[name]
    else:
        module_name, function, _ = COMMANDS[name]
    handler = getattr(importlib.import_module(module_name), function)
    try:
        return int(handler(cli, argv, path) or 0)
    except HelpRequested as help_:
        cli.stdout.write("\n" + str(help_) + "\n")
        return 0
    except UsageError as exc:
        cli.err(str(exc))
        return exc.status
    except StatusError as exc:
        if exc.message:
            cli.err(exc.message)
        return exc.status
    except APIError as exc:
        cli.err(str(exc))
        return 1
    except DaemonUnavailable as exc:
        cli.err(str(exc))
        if cli.debug and exc.detail:
            cli.err(exc.detail)
        return 1
    except ClientError as exc:
        cli.err(str(exc))
        return 1
    except ConnectionError as exc:
        if isinstance(exc, BrokenPipeError):
            raise  # our stdout's reader went away: main() handles that
        cli.err(f"error during connect: the daemon's response broke off: {exc}")
        return 1


def help_text() -> str:
    width = 12
    lines = [
        f"Usage:  {PROG} [OPTIONS] COMMAND",
        "",
        "A self-sufficient runtime for containers",
        "",
        "Common Commands:",
    ]
    lines += [f"  {name.ljust(width)}{COMMANDS[name][2]}" for name in COMMON]
    lines += ["", "Management Commands:"]
    lines += [f"  {name.ljust(width)}{summary}" for name, (summary, _) in GROUPS.items()]
    lines += ["", "Commands:"]
    lines += [
        f"  {name.ljust(width)}{summary}"
        for name, (_, _, summary) in sorted(COMMANDS.items())
        if name not in COMMON and " " not in name
    ]
    lines += [f"  {'daemon'.ljust(width)}Run the dockyard daemon"]
    lines += [
        "",
        "Global Options:",
        "  -D, --debug              Enable debug mode",
        "  -H, --host string        Daemon socket to connect to",
        "      --tls                Use TLS; implied by --tlsverify",
        '      --tlscacert string   Trust certs signed only by this CA (default "~/.docker/ca.pem")',
        '      --tlscert string     Path to TLS certificate file (default "~/.docker/cert.pem")',
        '      --tlskey string      Path to TLS key file (default "~/.docker/key.pem")',
        "      --tlsverify          Use TLS and verify the remote",
        "  -v, --version            Print version information and quit",
        "",
        f"Run '{PROG} COMMAND --help' for more information on a command.",
    ]
    return "\n".join(lines) + "\n"


def _group_help(word: str, summary: str, subcommands: dict[str, str]) -> str:
    lines = [f"Usage:  {PROG} {word} COMMAND", "", summary, "", "Commands:"]
    seen: set[str] = set()
    for sub, target in subcommands.items():
        if target in seen:
            continue
        seen.add(target)
        entry = _SPECIAL.get(target)
        text = (
            COMMANDS[target][2]
            if entry is None
            else f"Display detailed information on one or more {word}s"
        )
        # Names longer than 8 ("disconnect") push the column out, as in Docker.
        lines.append(f"  {sub.ljust(max(10, max(map(len, subcommands)) + 2))}{text}")
    lines += ["", f"Run '{PROG} {word} COMMAND --help' for more information on a command."]
    return "\n".join(lines) + "\n"


def _bool_value(text: str) -> bool | None:
    """Go's boolean flag values (`--tls=false`); None if `text` is not one."""
    value = text.lower()
    if value in ("1", "t", "true"):
        return True
    if value in ("0", "f", "false"):
        return False
    return None


def _usage_failure(message: str) -> int:
    sys.stderr.write(
        f"{message}\n\nUsage:  {PROG} [OPTIONS] COMMAND [ARG...]\n\n"
        f"Run '{PROG} --help' for more information\n"
    )
    return 125


def _silence_stdout() -> None:
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    sys.exit(main())
