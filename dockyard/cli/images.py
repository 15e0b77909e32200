# SPDX-License-Identifier: Apache-2.0
"""Image verbs: images, pull, rmi, tag, import, save, load.

Outputs follow Docker: one `images` row per tag, `Untagged:`/`Deleted:` lines from rmi,
the progress stream of pull/load/import, and `save` refusing to write a tar archive to
a terminal.
"""

from __future__ import annotations

import os

from dockyard.cli.command import Cli, StatusError, parse_filters
from dockyard.cli.parser import Command, Flag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

IMAGES = Command(
    "images",
    "[OPTIONS] [REPOSITORY[:TAG]]",
    "List images",
    [
        Flag("all", "a", help="Show all images (default hides intermediate images)"),
        Flag("digests", "", help="Show digests"),
        Flag(
            "filter",
            "f",
            "list",
            type_name="filter",
            help="Filter output based on conditions provided",
        ),
        Flag("format", "", "string", help="Format output using a custom template"),
        Flag("no-trunc", "", help="Don't truncate output"),
        Flag("quiet", "q", help="Only show image IDs"),
    ],
    max_args=1,
    aliases=["image ls", "image list", "images"],
)

IMAGE_TITLES = {
    "ID": "IMAGE ID",
    "Repository": "REPOSITORY",
    "Tag": "TAG",
    "Digest": "DIGEST",
    "CreatedSince": "CREATED",
    "CreatedAt": "CREATED AT",
    "Size": "SIZE",
    "Containers": "CONTAINERS",
    "VirtualSize": "VIRTUAL SIZE",
    "SharedSize": "SHARED SIZE",
    "UniqueSize": "UNIQUE SIZE",
}

IMAGES_TABLE = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
IMAGES_DIGESTS_TABLE = (
    "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
)


def cmd_images(cli: Cli, argv: list[str], path: str) -> int:
    opts, args = IMAGES.with_path(path).parse(argv)
    filters = parse_filters(opts.filter)
    if args:
        filters.setdefault("reference", []).append(args[0])
    images = cli.client.images(all=opts.all, filters=filters or None)
    fmt = "{{.ID}}" if opts.quiet else opts.format
    # Docker fills in digests only when they are asked for, by flag or by the template.
    digests = opts.digests or ".Digest" in (opts.format or "")
    rows = [
        row
        for image in images
        for row in image_rows(
            image, trunc=not opts.no_trunc, digests=digests, untagged_digests=opts.digests
        )
    ]
    table = IMAGES_DIGESTS_TABLE if opts.digests else IMAGES_TABLE
    from dockyard.cli.listing import render_list

    cli.stdout.write(render_list(fmt, rows, IMAGE_TITLES, table))
    return 0


def image_rows(
    image: dict[str, Any],
    trunc: bool = True,
    digests: bool = True,
    untagged_digests: bool | None = None,
) -> list[ImageRow]:
    """One row per tag; an untagged image shows its digested names, or `<none>`.

    Without `digests` the Digest field is `<none>` on tagged rows, and without
    `untagged_digests` (the --digests flag) it is empty on digest-only rows: Docker
    fills them in only when asked, and scripts see exactly that.
    """
    if untagged_digests is None:
        untagged_digests = digests
    tags = [t for t in image.get("RepoTags") or [] if t != "<none>:<none>"]
    repo_digests = [d for d in image.get("RepoDigests") or [] if d != "<none>@<none>"]
    rows: list[ImageRow] = []
    for ref in tags:
        repo, tag = _split_tag(ref)
        digest = "<none>"
        if digests:
            digest = next(
                (d.split("@", 1)[1] for d in repo_digests if d.split("@", 1)[0] == repo), "<none>"
            )
        rows.append(ImageRow(image, repo, tag, digest, trunc))
    if not rows:
        for ref in repo_digests:
            repo, _, digest = ref.partition("@")
            rows.append(ImageRow(image, repo, "<none>", digest if untagged_digests else "", trunc))
    if not rows:
        rows.append(ImageRow(image, "<none>", "<none>", "<none>", trunc))
    return rows


class ImageRow:
    """One `images` row; attribute names are Docker's template fields."""

    FIELDS = [
        "Containers",
        "CreatedAt",
        "CreatedSince",
        "Digest",
        "ID",
        "Repository",
        "SharedSize",
        "Size",
        "Tag",
        "UniqueSize",
        "VirtualSize",
    ]

    def __init__(
        self,
        image: dict[str, Any],
        repository: str,
        tag: str,
        digest: str,
        trunc: bool = True,
        now: float | None = None,
    ):
        self.image = image
        self.Repository = repository
        self.Tag = tag
        self.Digest = digest
        self.trunc = trunc
        self.now = now

    @property
    def ID(self) -> str:  # noqa: N802 - Go template field names
        from dockyard.cli.formatting import short_id

        return short_id(self.image.get("Id", ""), not self.trunc)

    @property
    def CreatedSince(self) -> str:  # noqa: N802
        from dockyard.cli.formatting import since

        created = self.image.get("Created") or 0
        return since(created, self.now) if created > 0 else "N/A"

    @property
    def CreatedAt(self) -> str:  # noqa: N802
        from dockyard.cli.formatting import go_time

        return go_time(self.image.get("Created") or 0)

    @property
    def Size(self) -> str:  # noqa: N802
        from dockyard.units import human_size

        return human_size(self.image.get("Size") or 0)

    @property
    def VirtualSize(self) -> str:  # noqa: N802
        from dockyard.units import human_size

        return human_size(self.image.get("VirtualSize", self.image.get("Size")) or 0, 4)

    @property
    def SharedSize(self) -> str:  # noqa: N802
        from dockyard.units import human_size

        shared = self.image.get("SharedSize", -1)
        return "N/A" if shared is None or shared < 0 else human_size(shared, 4)

    @property
    def UniqueSize(self) -> str:  # noqa: N802
        from dockyard.units import human_size

        shared = self.image.get("SharedSize", -1)
        if shared is None or shared < 0:
            return "N/A"
        return human_size((self.image.get("Size") or 0) - shared, 4)

    @property
    def Containers(self) -> str:  # noqa: N802
        count = self.image.get("Containers", -1)
        return "N/A" if count is None or count < 0 else str(count)

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.FIELDS}


# --- pull ---------------------------------------------------------------------------

PULL = Command(
    "pull",
    "[OPTIONS] NAME[:TAG|@DIGEST]",
    "Download an image from a registry",
    [
        Flag("all-tags", "a", help="Download all tagged images in the repository"),
        Flag("bootstrap", "", help="If no registry answers, build the official image's stand-in from Debian packages"),
        Flag("platform", "", "string", help="Set platform if server is multi-platform capable"),
        Flag("quiet", "q", help="Suppress verbose output"),
    ],
    min_args=1,
    max_args=1,
    aliases=["image pull", "pull"],
)


def cmd_pull(cli: Cli, argv: list[str], path: str) -> int:
    opts, args = PULL.with_path(path).parse(argv)
    ref = args[0]
    name, tag, digest = split_reference(ref)
    if opts.all_tags and (tag or digest):
        raise StatusError("tag can't be used with --all-tags/-a", 1)
    if not tag and not digest and not opts.all_tags:
        tag = "latest"
        if not opts.quiet:
            cli.out("Using default tag: latest")
    pull_image(cli, name, digest or tag or None, opts.platform, quiet=opts.quiet, out=cli.stdout,
               bootstrap=opts.bootstrap)
    suffix = f"@{digest}" if digest else (f":{tag}" if tag else "")
    cli.out(full_name(name) + suffix)
    return 0


def pull_image(
    cli: Cli,
    name: str,
    tag: str | None,
    platform: str | None = None,
    quiet: bool = False,
    out: Any = None,
    bootstrap: bool = False,
) -> None:
    """Pull through the daemon, showing its progress on `out` (nothing if quiet).

    When no registry answers for an image dockyard can build offline, the daemon's error
    offers the build; on a terminal the offer is put as a question instead.
    """
    from dockyard.cli.progress import StreamError, check_stream, display_stream
    from dockyard.cli.registry import registry_auth
    from dockyard.client.errors import APIError

    out = out or cli.stdout

    def show(bootstrap: bool) -> None:
        messages = cli.client.pull(name, tag=tag, platform=platform, auth=registry_auth(name), bootstrap=bootstrap)
        check_stream(messages) if quiet else display_stream(messages, out)

    try:
        show(bootstrap)
    except (StreamError, APIError) as exc:  # the refusal comes before or within the stream
        if bootstrap or BOOTSTRAP_OFFER not in exc.message or not _interactive(cli, out):
            raise
        out.write(f"No registry answered for {name}:{tag or 'latest'}. Build it from Debian packages "
                  f"now (a minute or more)? [y/N] ")
        out.flush()
        if cli.stdin.readline().strip() not in ("y", "Y", "yes"):
            raise
        show(True)


# The daemon's offer to build an offline base image (baseimages/bootstrap.py) ends so.
BOOTSTRAP_OFFER = "dockyard pull --bootstrap"


def _interactive(cli: Cli, out: Any) -> bool:
    try:
        return cli.stdin.isatty() and out.isatty()
    except (AttributeError, ValueError):
        return False


# --- rmi / tag ----------------------------------------------------------------------

RMI = Command(
    "rmi",
    "[OPTIONS] IMAGE [IMAGE...]",
    "Remove one or more images",
    [
        Flag("force", "f", help="Force removal of the image"),
        Flag("no-prune", "", help="Do not delete untagged parents"),
    ],
    min_args=1,
    aliases=["image rm", "image remove", "rmi"],
)

TAG = Command(
    "tag",
    "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
    "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
    [],
    min_args=2,
    max_args=2,
    aliases=["image tag", "tag"],
)


def cmd_rmi(cli: Cli, argv: list[str], path: str) -> int:
    opts, args = RMI.with_path(path).parse(argv)
    from dockyard.client.errors import APIError

    status = 0
    for name in args:
        try:
            deleted = cli.client.remove_image(name, force=opts.force, noprune=opts.no_prune)
        except APIError as exc:
            cli.err(str(exc))
            status = 1
            continue
        for item in deleted or []:
            if "Untagged" in item:
                cli.out(f"Untagged: {item['Untagged']}")
            if "Deleted" in item:
                cli.out(f"Deleted: {item['Deleted']}")
    return status


def cmd_tag(cli: Cli, argv: list[str], path: str) -> int:
    _, args = TAG.with_path(path).parse(argv)
    source, target = args
    name, tag, digest = split_reference(target)
    if digest:
        raise StatusError("refusing to create a tag with a digest reference", 1)
    cli.client.tag(source, name, tag or "latest")
    return 0


# --- import / save / load -------------------------------------------------------------

IMPORT = Command(
    "import",
    "[OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
    "Import the contents from a tarball to create a filesystem image",
    [
        Flag("change", "c", "list", help="Apply Dockerfile instruction to the created image"),
        Flag("message", "m", "string", help="Set commit message for imported image"),
        Flag("platform", "", "string", help="Set platform if server is multi-platform capable"),
    ],
    min_args=1,
    max_args=2,
    aliases=["image import", "import"],
)

SAVE = Command(
    "save",
    "[OPTIONS] IMAGE [IMAGE...]",
    "Save one or more images to a tar archive (streamed to STDOUT by default)",
    [
        Flag("output", "o", "string", help="Write to a file, instead of STDOUT"),
        Flag("platform", "", "list", hidden=True),
    ],
    min_args=1,
    aliases=["image save", "save"],
)

LOAD = Command(
    "load",
    "[OPTIONS]",
    "Load an image from a tar archive or STDIN",
    [
        Flag("input", "i", "string", help="Read from tar archive file, instead of STDIN"),
        Flag("quiet", "q", help="Suppress the load output"),
    ],
    max_args=0,
    aliases=["image load", "load"],
)


def cmd_import(cli: Cli, argv: list[str], path: str) -> int:
    opts, args = IMPORT.with_path(path).parse(argv)
    source = args[0]
    repository = args[1] if len(args) > 1 else None
    if repository:
        _name, _tag, digest = split_reference(repository)
        if digest:
            raise StatusError("refusing to create a tag with a digest reference", 1)
    common: dict[str, Any] = {
        "repository": repository,
        "message": opts.message,
        "changes": opts.change,
        "platform": opts.platform,
    }
    if source.startswith(("http://", "https://")):
        messages = cli.client.import_image(src_url=source, **common)
        _show(cli, messages)
    elif source == "-":
        messages = cli.client.import_image(_stdin_bytes(cli), **common)
        _show(cli, messages)
    else:
        try:
            handle = open(source, "rb")
        except OSError as exc:
            raise StatusError(f"open {source}: {_os_reason(exc)}", 1) from None
        with handle:
            _show(cli, cli.client.import_image(handle, **common))
    return 0


def cmd_save(cli: Cli, argv: list[str], path: str) -> int:
    opts, args = SAVE.with_path(path).parse(argv)
    if not opts.output and _isatty(cli.stdout):
        raise StatusError("cowardly refusing to save to a terminal. Use the -o flag or redirect", 1)
    chunks = cli.client.get_images(args)
    if not opts.output:
        for chunk in chunks:
            cli.out_bytes(chunk)
        return 0
    # Write beside the target and rename, so a failed save never leaves half a tar.
    target = opts.output
    directory = os.path.dirname(os.path.abspath(target))
    tmp = os.path.join(directory, f".{os.path.basename(target)}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
        os.replace(tmp, target)
    except OSError as exc:
        raise StatusError(f"failed to save image: {_os_reason(exc)}", 1) from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return 0


def cmd_load(cli: Cli, argv: list[str], path: str) -> int:
    opts, _ = LOAD.with_path(path).parse(argv)
    # Progress bars only make sense on a terminal; Docker asks for quiet output otherwise.
    quiet = opts.quiet or not _isatty(cli.stdout)
    if opts.input:
        try:
            handle = open(opts.input, "rb")
        except OSError as exc:
            raise StatusError(f"open {opts.input}: {_os_reason(exc)}", 1) from None
        with handle:
            _show(cli, cli.client.load_image(handle, quiet=quiet))
        return 0
    if _isatty(cli.stdin):
        raise StatusError("requested load from stdin, but stdin is empty", 1)
    _show(cli, cli.client.load_image(_stdin_bytes(cli), quiet=quiet))
    return 0


def _show(cli: Cli, messages: Any) -> None:
    from dockyard.cli.progress import display_stream

    display_stream(messages, cli.stdout)


# --- references -----------------------------------------------------------------------


def split_reference(ref: str) -> tuple[str, str, str]:
    """`name[:tag][@digest]` → (name, tag, digest); a registry's port is not a tag."""
    name, _, digest = ref.partition("@")
    name, tag = _split_tag(name)
    return name, ("" if tag == "<none>" else tag), digest


def full_name(name: str) -> str:
    """Docker's fully qualified name: `busybox` → `docker.io/library/busybox`."""
    first, sep, _ = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return name
    if not sep:
        return f"docker.io/library/{name}"
    return f"docker.io/{name}"


def _split_tag(ref: str) -> tuple[str, str]:
    colon = ref.rfind(":")
    if colon > ref.rfind("/"):
        return ref[:colon], ref[colon + 1 :]
    return ref, ""


def _stdin_bytes(cli: Cli) -> Any:
    return getattr(cli.stdin, "buffer", cli.stdin)


def _isatty(stream: Any) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:
        return False


def _os_reason(exc: OSError) -> str:
    return (exc.strerror or str(exc)).lower()
