# SPDX-License-Identifier: Apache-2.0
"""Registry verbs: push, login, logout, search, and `registry serve` (the registry server).

Credentials live in Docker's `~/.docker/config.json` (distribution/credentials.py, standard
library only); push and pull send them to the daemon in `X-Registry-Auth`, as docker does.
`registry serve` is the only command here that does not talk to the daemon: it imports
the aiohttp server only when run.
"""

from __future__ import annotations

import sys

from dockyard.cli.command import Cli, StatusError, parse_filters
from dockyard.cli.parser import Command, Flag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

HUB_INDEX = "https://index.docker.io/v1/"

PUSH = Command(
    "push",
    "[OPTIONS] NAME[:TAG]",
    "Upload an image to a registry",
    [
        Flag("all-tags", "a", help="Push all tags of an image to the repository"),
        Flag("quiet", "q", help="Suppress verbose output"),
    ],
    min_args=1,
    max_args=1,
    aliases=["image push", "push"],
)

LOGIN = Command(
    "login",
    "[OPTIONS] [SERVER]",
    "Log in to a registry",
    [
        Flag("password", "p", "string", help="Password"),
        Flag("password-stdin", "", help="Take the password from stdin"),
        Flag("username", "u", "string", help="Username"),
    ],
    max_args=1,
)

LOGOUT = Command("logout", "[SERVER]", "Log out from a registry", [], max_args=1)

SEARCH = Command(
    "search",
    "[OPTIONS] TERM",
    "Search Docker Hub for images",
    [
        Flag("filter", "f", "list", type_name="filter", help="Filter output based on conditions provided"),
        Flag("format", "", "string", help="Pretty-print search using a Go template"),
        Flag("limit", "", "int", help="Max number of search results"),
        Flag("no-trunc", "", help="Don't truncate output"),
    ],
    min_args=1,
    max_args=1,
)

SERVE = Command(
    "registry serve",
    "[OPTIONS]",
    "Run an OCI distribution registry",
    [
        Flag("addr", "", "string", help="Address to listen on (default 127.0.0.1:5000)"),
        Flag("anonymous-pull", "", help="With --auth token: let anyone pull"),
        Flag("auth", "", "string", help="With --htpasswd: basic (default) or token"),
        Flag("htpasswd", "", "string", help="Require users of this htpasswd file (bcrypt)"),
        Flag("root", "", "string", help="Storage directory (default /var/lib/dockyard-registry)"),
        Flag("tls-cert", "", "string", help="TLS certificate file"),
        Flag("tls-key", "", "string", help="TLS key file"),
    ],
    max_args=0,
)


GC = Command(
    "registry gc",
    "[OPTIONS]",
    "Delete blobs no manifest of a registry needs (run by the registry's host)",
    [
        Flag("root", "", "string", help="Storage directory (default /var/lib/dockyard-registry)"),
        Flag("dry-run", "", help="Only say what would be deleted"),
        Flag("delete-untagged", "", help="Also drop manifests no tag points at"),
        Flag("grace", "", "string", default="1h",
             help="Keep unreferenced blobs younger than this (pushes in flight), e.g. 10m, 0s"),
    ],
    max_args=0,
)


def cmd_registry_gc(cli: Cli, argv: list[str], path: str) -> int:
    opts, _ = GC.with_path(path).parse(argv)
    from pathlib import Path

    from dockyard.cli.opts import OptError, go_duration
    from dockyard.registry.gc import collect
    from dockyard.registry.storage import RegistryStorage
    from dockyard.units import human_size

    try:
        grace = go_duration(opts.grace) / 1e9
    except OptError as e:
        raise StatusError(f"invalid argument {opts.grace!r} for \"--grace\" flag: {e}", 125) from None
    root = Path(opts.root or "/var/lib/dockyard-registry")
    if not (root / "blobs").is_dir():
        raise StatusError(f"{root} is not a registry's storage directory", 1)
    report = collect(RegistryStorage(root), dry_run=opts.dry_run, untagged=opts.delete_untagged, grace=grace)
    verb, done = ("would delete", "would be deleted") if opts.dry_run else ("deleted", "deleted")
    for manifest in report.untagged:
        cli.out(f"{verb} untagged manifest {manifest}")
    for digest in report.deleted:
        cli.out(f"{verb} blob {digest}")
    cli.out(f"{len(report.deleted)} blob(s) {done}, {human_size(report.freed)} freed; {report.marked} in use; "
            f"{len(report.kept_young)} unreferenced kept for now (younger than {opts.grace})")
    return 0


def registry_auth(name: str) -> str:
    """The X-Registry-Auth header for the registry of image `name` (from config.json)."""
    from dockyard.distribution.credentials import CredentialStore

    domain = _domain_of(name)
    try:
        auth = CredentialStore().get(domain)
    except (OSError, ValueError):
        return "e30="
    return auth.encode() if not auth.empty else "e30="


def cmd_push(cli: Cli, argv: list[str], path: str) -> int:
    opts, args = PUSH.with_path(path).parse(argv)
    from dockyard.cli.images import split_reference

    name, tag, digest = split_reference(args[0])
    if digest:
        raise StatusError("invalid reference format: cannot push a digest reference", 1)
    if opts.all_tags and tag:
        raise StatusError("tag can't be used with --all-tags/-a", 1)
    if not tag and not opts.all_tags:
        tag = "latest"
        if not opts.quiet:
            cli.out("Using default tag: latest")
    messages = cli.client.push(name, tag=tag or None, auth=registry_auth(name))
    from dockyard.cli.progress import check_stream, display_stream

    if opts.quiet:
        check_stream(messages)
        cli.out(args[0])
        return 0
    display_stream(messages, cli.stdout)
    return 0


def cmd_login(cli: Cli, argv: list[str], path: str) -> int:
    opts, args = LOGIN.with_path(path).parse(argv)
    from dockyard.distribution.credentials import AuthConfig, CredentialStore, server_key

    server = args[0] if args else HUB_INDEX
    username, password = opts.username or "", opts.password or ""
    if opts.password and opts.password_stdin:
        raise StatusError("--password and --password-stdin are mutually exclusive", 1)
    if opts.password_stdin:
        if not username:
            raise StatusError("Must provide --username with --password-stdin", 1)
        password = cli.stdin.read().rstrip("\r\n")
    elif opts.password:
        cli.err("WARNING! Using --password via the CLI is insecure. Use --password-stdin.")
    if not username:
        if not sys.stdin.isatty():
            raise StatusError("Error: Cannot perform an interactive login from a non TTY device", 1)
        username = input("Username: ").strip()
    if not password:
        import getpass

        password = getpass.getpass("Password: ")
    if not username or not password:
        raise StatusError("Error: Username and password are required", 1)
    result = cli.client.login(username, password, server)
    store = CredentialStore()
    try:
        store.store(AuthConfig(username, password, server_key(server.split("://", 1)[-1].rstrip("/"))
                               if server != HUB_INDEX else HUB_INDEX,
                               identity_token=result.get("IdentityToken") or ""))
    except OSError as e:
        raise StatusError(f"Error saving credentials: {e}", 1) from None
    if not store_helper(store):
        cli.err(f"WARNING! Your password will be stored unencrypted in {store.path}.")
    cli.out(result.get("Status") or "Login Succeeded")
    return 0


def store_helper(store: Any) -> bool:
    import json

    try:
        config = json.loads(store.path.read_text() or "{}")
    except (OSError, ValueError):
        return False
    return bool(config.get("credsStore") or config.get("credHelpers"))


def cmd_logout(cli: Cli, argv: list[str], path: str) -> int:
    _, args = LOGOUT.with_path(path).parse(argv)
    from dockyard.distribution.credentials import CredentialStore, server_key

    server = server_key(args[0]) if args else HUB_INDEX
    if CredentialStore().erase(server):
        cli.out(f"Removing login credentials for {server}")
    else:
        cli.out(f"Not logged in to {server}")
    return 0


def cmd_search(cli: Cli, argv: list[str], path: str) -> int:
    opts, args = SEARCH.with_path(path).parse(argv)
    results = cli.client.search(args[0], limit=opts.limit or None, filters=parse_filters(opts.filter) or None,
                                auth=registry_auth(args[0] + "/x" if "/" not in args[0] else args[0]))
    from dockyard.cli.listing import render_list

    rows = [_SearchRow(r, not opts.no_trunc) for r in results]
    table = "table {{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}"
    titles = {"Name": "NAME", "Description": "DESCRIPTION", "StarCount": "STARS",
              "IsOfficial": "OFFICIAL", "IsAutomated": "AUTOMATED"}
    cli.stdout.write(render_list(opts.format, rows, titles, table))
    return 0


class _SearchRow:
    def __init__(self, result: dict[str, Any], trunc: bool):
        self.Name = result.get("name", "")
        description = (result.get("description") or "").replace("\n", " ")
        if trunc and len(description) > 45:
            description = description[:44] + "…"
        self.Description = description
        self.StarCount = str(result.get("star_count", 0))
        self.IsOfficial = "[OK]" if result.get("is_official") else ""
        self.IsAutomated = "[OK]" if result.get("is_automated") else ""

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("Name", "Description", "StarCount", "IsOfficial", "IsAutomated")}


def cmd_registry_serve(cli: Cli, argv: list[str], path: str) -> int:
    opts, _ = SERVE.with_path(path).parse(argv)
    import logging
    from pathlib import Path

    from dockyard.registry.server import Auth, load_htpasswd, run

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    auth = Auth()
    if opts.htpasswd:
        auth = Auth(mode=opts.auth or "basic", users=load_htpasswd(opts.htpasswd),
                    anonymous_pull=opts.anonymous_pull)
    elif opts.auth == "token":
        auth = Auth(mode="token", anonymous_pull=True)
    if auth.mode not in ("none", "basic", "token"):
        raise StatusError(f"unknown --auth {opts.auth!r}: use basic or token", 125)
    if bool(opts.tls_cert) != bool(opts.tls_key):
        raise StatusError("--tls-cert and --tls-key go together", 125)
    root = Path(opts.root or "/var/lib/dockyard-registry")
    run(root, opts.addr or "127.0.0.1:5000", auth, opts.tls_cert or None, opts.tls_key or None)
    return 0


def _domain_of(name: str) -> str:
    first, sep, _ = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"
