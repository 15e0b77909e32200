# SPDX-License-Identifier: Apache-2.0
"""Debian root filesystems for the `debian` base images, made with mmdebstrap.

`debian:bookworm` is a minbase bootstrap configured the way the official image is
(apt keeps no package cache and downloads no translations, services never start during
package installs, no host names or resolvers baked in); `debian:bookworm-slim` also
tells dpkg to leave out documentation, manual pages and translations, then and in every
later `apt-get install`. The packages come from the mirror the host's own apt uses.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from dockyard.errors import DockyardError, NotFound

SUITE = "bookworm"
VERSION = "12"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
DEFAULT_SECURITY = "http://deb.debian.org/debian-security"
MERGED_USR_HOOKS = "/usr/share/mmdebstrap/hooks/merged-usr"
SOURCE_DATE_EPOCH = "1704067200"  # the fixed time base-image layers carry (layer.FIXED_MTIME)

# What the slim variant's dpkg leaves out (the copyright files stay, as Debian's policy asks).
SLIM_EXCLUDES = (
    "/usr/share/doc/*", "/usr/share/man/*", "/usr/share/info/*", "/usr/share/groff/*",
    "/usr/share/lintian/*", "/usr/share/linda/*", "/usr/share/locale/*",
)
SLIM_INCLUDES = ("/usr/share/doc/*/copyright",)

_APT_CONF = {
    # Downloaded .debs are deleted after every install and update: layers stay small.
    "docker-clean": (
        'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb '
        '/var/cache/apt/*.bin || true"; };\n'
        'APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb '
        '/var/cache/apt/*.bin || true"; };\n'
        'Dir::Cache::pkgcache "";\nDir::Cache::srcpkgcache "";\n'
    ),
    "docker-autoremove-suggests": 'Apt::AutoRemove::SuggestsImportant "false";\n',
    "docker-gzip-indexes": 'Acquire::GzipIndexes "true";\nAcquire::CompressionTypes::Order:: "gz";\n',
    "docker-no-languages": 'Acquire::Languages "none";\n',
}
# invoke-rc.d asks this before starting a service from a package's postinst: never, in
# an image (there is no init system to start it under).
_POLICY_RC = "#!/bin/sh\n# No services start while packages are installed in a container image.\nexit 101\n"


def tags(slim: bool) -> list[str]:
    """The tags one variant answers to."""
    suffix = "-slim" if slim else ""
    base = [SUITE, VERSION, "stable"]
    return [t + suffix for t in base] + ([] if slim else ["latest"])


def config(slim: bool) -> dict[str, Any]:
    """The container config of the image (as the official one: bash, the default PATH)."""
    return {
        "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        "Cmd": ["bash"],
    }


def recipe_inputs(slim: bool) -> tuple[object, ...]:
    """Everything that decides what a bootstrap produces, but the mirror (cache keys)."""
    return (SUITE, _options(slim), config(slim))


def created_by(slim: bool, mirror: str) -> str:
    return f"mmdebstrap --variant=minbase {SUITE}{' (slim)' if slim else ''} {mirror} # dockyard"


@contextmanager
def layer_stream(slim: bool, mirror: str | None = None) -> Iterator[IO[bytes]]:
    """The root filesystem as an uncompressed layer tar, read while mmdebstrap writes it.

    Raises DockyardError with mmdebstrap's last words if the bootstrap fails.
    """
    if not _which("mmdebstrap"):
        raise NotFound("mmdebstrap is not installed; install Debian's mmdebstrap package")
    mirror = mirror or host_mirror()
    argv = ["mmdebstrap", *_options(slim)]
    argv += [SUITE, "-", *sources(mirror)]
    # /dev is the runtime's to populate: the image carries the directory, no device nodes.
    command = f"{shlex.join(argv)} | tar --delete --wildcards './dev/?*'"
    process = subprocess.Popen(
        ["bash", "-o", "pipefail", "-c", command], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
                                     "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH, "LC_ALL": "C.UTF-8"})
    assert process.stdout is not None and process.stderr is not None
    try:
        yield process.stdout
        process.stdout.read()  # drain, so mmdebstrap is never stuck on a full pipe
    finally:
        process.stdout.close()
        errors = process.stderr.read().decode(errors="replace")
        code = process.wait()
    if code != 0:
        last = [line for line in errors.splitlines() if line.strip()][-3:]
        raise DockyardError(f"mmdebstrap {SUITE} failed (exit {code}): {' | '.join(last) or 'no output'}")


def sources(mirror: str) -> list[str]:
    security = DEFAULT_SECURITY if "deb.debian.org" in mirror else mirror.rstrip("/") + "-security"
    return [f"deb {mirror} {SUITE} main", f"deb {mirror} {SUITE}-updates main",
            f"deb {security} {SUITE}-security main"]


def host_mirror(paths: tuple[str, ...] = ("/etc/apt/sources.list.d/debian.sources",
                                          "/etc/apt/sources.list")) -> str:
    """The Debian mirror the host's apt uses (deb822 or one-line format), else deb.debian.org."""
    for path in paths:
        try:
            text = Path(path).read_text()
        except OSError:
            continue
        for uri in re.findall(r"^\s*URIs:\s*(\S+)", text, re.M) + \
                re.findall(r"^\s*deb\s+(?:\[[^]]*\]\s+)?(\S+)", text, re.M):
            if not uri.rstrip("/").endswith("-security") and uri.startswith(("http://", "https://")):
                return uri.rstrip("/")
    return DEFAULT_MIRROR


def _options(slim: bool) -> list[str]:
    """mmdebstrap's options, but the suite, output and sources."""
    # --skip: mmdebstrap's own policy-rc.d would replace ours and be removed at the end
    # (minbase starts no services while it installs).
    options = ["--variant=minbase", "--mode=root", "--format=tar", "--quiet", "--skip=chroot/policy-rc.d",
               *[f"--customize-hook={hook}" for hook in _hooks(slim)]]
    if Path(MERGED_USR_HOOKS).is_dir():
        # /bin → /usr/bin made by the hook rather than the usrmerge package (and the
        # perl it drags in), as the official images are.
        options.append(f"--hook-dir={MERGED_USR_HOOKS}")
    if slim:
        options += [f"--dpkgopt=path-exclude={p}" for p in SLIM_EXCLUDES]
        options += [f"--dpkgopt=path-include={p}" for p in SLIM_INCLUDES]
    return options


def _hooks(slim: bool) -> list[str]:
    hooks = [
        # Written by the container runtime at start; the host's must not end up in the image.
        ': > "$1/etc/hostname"', ': > "$1/etc/resolv.conf"',
        f'printf %s {shlex.quote(_POLICY_RC)} > "$1/usr/sbin/policy-rc.d"',
        'chmod 755 "$1/usr/sbin/policy-rc.d"',
        'rm -rf "$1"/var/cache/apt/*.bin "$1"/var/cache/debconf/*-old "$1"/var/lib/dpkg/*-old',
        # One-line sources like the host's, which later apt-get runs in builds keep using.
        'rm -f "$1/etc/apt/sources.list.d/"*',
    ]
    hooks += [f'printf %s {shlex.quote(text)} > "$1/etc/apt/apt.conf.d/{name}"'
              for name, text in _APT_CONF.items()]
    if slim:
        hooks.append('rm -rf "$1"/usr/share/man/* "$1"/usr/share/info/* "$1"/usr/share/locale/*')
    return hooks


def _which(program: str) -> bool:
    import shutil

    return shutil.which(program, path="/usr/sbin:/usr/bin:/sbin:/bin") is not None
