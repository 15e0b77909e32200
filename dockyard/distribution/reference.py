# SPDX-License-Identifier: Apache-2.0
"""Image references: Docker's grammar, normalization and the short ("familiar") form.

The grammar is the one of Docker's distribution/reference package::

    reference        := name [ ":" tag ] [ "@" digest ]
    name             := [domain "/"] path-component ["/" path-component]*
    domain           := host [":" port]        (host: DNS name or [IPv6])
    path-component   := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
    tag              := [\\w][\\w.-]{0,127}
    digest           := algorithm ":" hex{32,}

A name without a domain belongs to Docker Hub (`docker.io`), and a single-component Hub
name lives under `library/`. The store keys everything by the normalized string
(`docker.io/library/busybox:latest`); users see the familiar one (`busybox:latest`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from dockyard.errors import InvalidParameter

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_REPO_PREFIX = "library/"
DEFAULT_TAG = "latest"
NAME_TOTAL_MAX = 255

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = _ALNUM + r"(?:" + _SEPARATOR + _ALNUM + r")*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME = _DOMAIN_COMPONENT + r"(?:\." + _DOMAIN_COMPONENT + r")*"
_IPV6 = r"\[[a-fA-F0-9:]+\]"
_DOMAIN = r"(?:" + _DOMAIN_NAME + r"|" + _IPV6 + r")(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_PATH = _PATH_COMPONENT + r"(?:/" + _PATH_COMPONENT + r")*"

_REFERENCE_RE = re.compile(
    r"((?:" + _DOMAIN + r")/" + _PATH + r")(?::(" + _TAG + r"))?(?:@(" + _DIGEST + r"))?",
    re.ASCII,
)
_DOMAIN_RE = re.compile(_DOMAIN, re.ASCII)
_PATH_RE = re.compile(_PATH, re.ASCII)
_TAG_RE = re.compile(_TAG, re.ASCII)
_ID_RE = re.compile(r"[a-f0-9]{64}")
_DIGEST_HEX_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}


@dataclass(frozen=True)
class Reference:
    """A parsed, normalized reference; `tag` and `digest` are None when absent."""

    domain: str
    path: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """The repository: `docker.io/library/busybox`."""
        return f"{self.domain}/{self.path}"

    @property
    def familiar_name(self) -> str:
        """The repository as Docker prints it: `busybox`, `user/app`, `localhost:5000/a/b`."""
        if self.domain == DEFAULT_DOMAIN:
            path = self.path
            if path.startswith(OFFICIAL_REPO_PREFIX) and "/" not in path[len(OFFICIAL_REPO_PREFIX):]:
                return path[len(OFFICIAL_REPO_PREFIX):]
            return path
        return self.name

    @property
    def name_only(self) -> bool:
        return self.tag is None and self.digest is None

    def with_tag(self, tag: str) -> Reference:
        if not _TAG_RE.fullmatch(tag):
            raise InvalidParameter("invalid tag format")
        return replace(self, tag=tag, digest=None)

    def with_default_tag(self) -> Reference:
        """Docker's TagNameOnly: a bare name means `:latest`; tags and digests are kept."""
        return replace(self, tag=DEFAULT_TAG) if self.name_only else self

    def familiar(self) -> str:
        return self.familiar_name + self._suffix()

    def __str__(self) -> str:
        return self.name + self._suffix()

    def _suffix(self) -> str:
        suffix = f":{self.tag}" if self.tag is not None else ""
        if self.digest is not None:
            suffix += f"@{self.digest}"
        return suffix


def parse(ref: str) -> Reference:
    """Parse a user-supplied reference the way `docker` does (ParseNormalizedNamed).

    Raises InvalidParameter with Docker's message when the string is not a reference.
    """
    if _ID_RE.fullmatch(ref):
        raise InvalidParameter(
            f"invalid repository name ({ref}), cannot specify 64-byte hexadecimal strings"
        )
    domain, remainder = _split_domain(ref)
    remote_name = remainder.split(":", 1)[0]
    if remote_name.lower() != remote_name:
        raise InvalidParameter(
            f"invalid reference format: repository name ({remote_name}) must be lowercase"
        )
    full = f"{domain}/{remainder}"
    match = _REFERENCE_RE.fullmatch(full)
    if match is None:
        if _REFERENCE_RE.fullmatch(full.lower()):
            raise InvalidParameter("repository name must be lowercase")
        raise InvalidParameter("invalid reference format")
    name, tag, digest = match.group(1), match.group(2), match.group(3)
    if len(name) > NAME_TOTAL_MAX:
        raise InvalidParameter(
            f"repository name must not be more than {NAME_TOTAL_MAX} characters"
        )
    if digest is not None:
        _check_digest(digest)
    # The domain was split off before matching, so the path is what follows it.
    return Reference(domain=domain, path=name[len(domain) + 1:], tag=tag, digest=digest)


def normalize(ref: str | Reference) -> str:
    """`busybox` → `docker.io/library/busybox:latest`: the key the store uses."""
    parsed = parse(ref) if isinstance(ref, str) else ref
    return str(parsed.with_default_tag())


def familiar(ref: str | Reference) -> str:
    """`docker.io/library/busybox:latest` → `busybox:latest`; no tag is added or removed."""
    parsed = parse(ref) if isinstance(ref, str) else ref
    return parsed.familiar()


def familiar_name(ref: str | Reference) -> str:
    parsed = parse(ref) if isinstance(ref, str) else ref
    return parsed.familiar_name


def is_image_id(value: str) -> bool:
    """A full image ID: 64 hex characters, with or without the `sha256:` prefix."""
    if value.startswith("sha256:"):
        value = value[len("sha256:"):]
    return _ID_RE.fullmatch(value) is not None


def valid_tag(tag: str) -> bool:
    return _TAG_RE.fullmatch(tag) is not None


def valid_domain(domain: str) -> bool:
    return _DOMAIN_RE.fullmatch(domain) is not None


def valid_path(path: str) -> bool:
    return _PATH_RE.fullmatch(path) is not None


def _split_domain(name: str) -> tuple[str, str]:
    # The first component is a registry only if it looks like one (has a dot or a port,
    # is "localhost", or has uppercase letters which Hub paths may not): `user/app` is Hub.
    first, sep, rest = name.partition("/")
    if not sep or (
        "." not in first and ":" not in first and first != "localhost" and first.lower() == first
    ):
        domain, remainder = DEFAULT_DOMAIN, name
    else:
        domain, remainder = first, rest
    if domain == LEGACY_DEFAULT_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in remainder:
        remainder = OFFICIAL_REPO_PREFIX + remainder
    return domain, remainder


def _check_digest(digest: str) -> None:
    algorithm, _, hexpart = digest.partition(":")
    expected = _DIGEST_HEX_LENGTHS.get(algorithm)
    if expected is None:
        raise InvalidParameter("unsupported digest algorithm")
    if len(hexpart) != expected:
        raise InvalidParameter("invalid checksum digest length")
    if hexpart.lower() != hexpart:
        raise InvalidParameter("invalid checksum digest format")
