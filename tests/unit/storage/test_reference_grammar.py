# SPDX-License-Identifier: Apache-2.0
"""Docker's reference grammar: normalization, familiar forms and its error messages."""

import pytest

from dockyard.distribution import reference
from dockyard.errors import InvalidParameter


@pytest.mark.parametrize(
    ("given", "normalized", "familiar"),
    [
        ("busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"),
        ("library/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("index.docker.io/library/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("user/app:v1", "docker.io/user/app:v1", "user/app:v1"),
        ("docker.io/user/a/b", "docker.io/user/a/b:latest", "user/a/b:latest"),
        ("localhost/app", "localhost/app:latest", "localhost/app:latest"),
        ("localhost:5000/a/b:tag", "localhost:5000/a/b:tag", "localhost:5000/a/b:tag"),
        ("registry.example.com/account/repository:tag",
         "registry.example.com/account/repository:tag", "registry.example.com/account/repository:tag"),
        ("Registry.Example.com/x", "Registry.Example.com/x:latest", "Registry.Example.com/x:latest"),
        ("[::1]:5000/app", "[::1]:5000/app:latest", "[::1]:5000/app:latest"),
        ("my_app.v2-x__y", "docker.io/library/my_app.v2-x__y:latest", "my_app.v2-x__y:latest"),
    ],
)
def test_normalize_and_familiar(given, normalized, familiar):
    assert reference.normalize(given) == normalized
    assert reference.familiar(normalized) == familiar


def test_parse_fields_and_digest():
    digest = "sha256:" + "a" * 64
    ref = reference.parse(f"localhost:5000/team/app:1.0@{digest}")
    assert (ref.domain, ref.path, ref.tag, ref.digest) == ("localhost:5000", "team/app", "1.0", digest)
    assert ref.name == "localhost:5000/team/app"
    assert reference.normalize(f"busybox@{digest}") == f"docker.io/library/busybox@{digest}"
    assert reference.familiar(f"docker.io/library/busybox@{digest}") == f"busybox@{digest}"


def test_familiar_keeps_what_was_given():
    assert reference.familiar("busybox") == "busybox"
    assert reference.familiar_name("docker.io/library/busybox:latest") == "busybox"
    assert reference.familiar_name("docker.io/library/a/b:latest") == "library/a/b"


def test_with_tag_and_default():
    ref = reference.parse("busybox")
    assert ref.name_only
    assert str(ref.with_tag("v2")) == "docker.io/library/busybox:v2"
    with pytest.raises(InvalidParameter, match="invalid tag format"):
        ref.with_tag("-bad")


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("Busybox", "invalid reference format: repository name (library/Busybox) must be lowercase"),
        ("user/App:tag", "invalid reference format: repository name (user/App) must be lowercase"),
        ("bad name", "invalid reference format"),
        ("busybox:", "invalid reference format"),
        ("busybox:-x", "invalid reference format"),
        ("a//b", "invalid reference format"),
        ("a/b/", "invalid reference format"),
        ("-busybox", "invalid reference format"),
        ("busybox@sha256:abc", "invalid reference format"),
        ("", "invalid reference format"),
        ("a" * 64, "invalid repository name (" + "a" * 64 + "), cannot specify 64-byte hexadecimal strings"),
        ("x" * 250 + "/" + "y" * 10, "repository name must not be more than 255 characters"),
        ("busybox@sha256:" + "a" * 63 + "A", "invalid checksum digest format"),
        ("busybox@sha256:" + "a" * 70, "invalid checksum digest length"),
        ("busybox@md5:" + "a" * 32, "unsupported digest algorithm"),
    ],
)
def test_invalid_references(given, message):
    with pytest.raises(InvalidParameter) as excinfo:
        reference.parse(given)
    assert excinfo.value.message == message
    assert excinfo.value.status == 400


def test_tag_length_limit():
    assert reference.valid_tag("t" * 128)
    assert not reference.valid_tag("t" * 129)
    with pytest.raises(InvalidParameter):
        reference.parse("busybox:" + "t" * 129)


def test_is_image_id():
    assert reference.is_image_id("f" * 64)
    assert reference.is_image_id("sha256:" + "0" * 64)
    assert not reference.is_image_id("f" * 63)
    assert not reference.is_image_id("busybox")
