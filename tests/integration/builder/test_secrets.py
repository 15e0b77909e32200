# SPDX-License-Identifier: Apache-2.0
"""`build --secret` with `RUN --mount=type=secret`: the step reads the secret, nothing of
it reaches the image (layers, history, config), the context or the cache key."""

import hashlib
import os
import secrets

import pytest

from tests.integration.builder.helpers import container_ids, saved, write_context
from tests.unit.builder.tarutil import tar_bytes

pytestmark = pytest.mark.requires_root

DOCKERFILE = """FROM busybox
COPY . /ctx/
RUN --mount=type=secret,id=tok sha256sum /run/secrets/tok | cut -d' ' -f1 > /tok.sha && stat -c '%a %u' /run/secrets/tok > /tok.stat
RUN --mount=type=secret,id=tok,target=/etc/app/token,mode=0440,uid=65534,gid=65534 stat -c '%a %u %g' /etc/app/token > /token.stat
RUN --mount=type=secret,id=fromenv,required=true wc -c < /run/secrets/fromenv > /env.len
RUN --mount=type=secret,id=absent test ! -e /run/secrets/absent
RUN --mount=type=secret,id=tok,env=TOKEN,required printf %s "$TOKEN" | sha256sum | cut -d' ' -f1 > /tok.env && test ! -e /run/secrets/tok
"""


def test_secret_mounts_leave_nothing_behind(daemon, tmp_path):
    value = b"file-secret-" + secrets.token_hex(8).encode()
    env_value = "env-secret-" + secrets.token_hex(8)
    (tmp_path / "tok.txt").write_bytes(value)
    ctx = write_context(tmp_path / "ctx", {"Dockerfile": DOCKERFILE, "keep.txt": "k\n"})
    env = {**os.environ, "SECRET_FROM_ENV": env_value}
    flags = ["--secret", f"id=tok,src={tmp_path / 'tok.txt'}", "--secret", "id=fromenv,env=SECRET_FROM_ENV"]
    daemon.cli("build", *flags, "-t", "bt-secret", str(ctx), env=env)

    shown = daemon.cli("run", "--rm", "bt-secret", "sh", "-c",
                       "cat /tok.sha /tok.stat /token.stat /env.len /tok.env; ls -A /ctx; "
                       "ls -d /run /etc/app 2>/dev/null; echo end").stdout.decode().split("\n")
    assert shown == [hashlib.sha256(value).hexdigest(), "400 0", "440 65534 65534", str(len(env_value)),
                     hashlib.sha256(value).hexdigest(), "Dockerfile", "keep.txt", "end", ""]  # no secret files in the context, no mount points left
    config, _, archive = saved(daemon, "bt-secret")
    for secret in (value, env_value.encode()):
        assert secret not in archive
        assert secret.hex().encode() not in archive
    assert not any(e.startswith("TOKEN=") for e in config["config"]["Env"])
    history = daemon.cli("history", "--no-trunc", "bt-secret").stdout
    assert value not in history and env_value.encode() not in history

    # The secret's content is not part of the cache key.
    (tmp_path / "tok.txt").write_bytes(b"rotated")
    out = daemon.cli("build", *flags, str(ctx), env=env).stdout.decode()
    assert out.count("Using cache") == 6


def test_missing_and_malformed_secrets(daemon, tmp_path):
    ctx = write_context(tmp_path, {"Dockerfile": "FROM busybox\nRUN --mount=type=secret,id=nope,required true\n"})
    before = container_ids(daemon)
    result = daemon.cli("build", str(ctx), check=False)
    assert result.returncode == 1 and "line 2: secret nope not found" in result.stderr.decode()
    assert container_ids(daemon) == before

    result = daemon.cli("build", "--secret", f"id=x,src={tmp_path / 'missing'}", str(ctx), check=False)
    assert result.returncode == 1
    assert result.stderr.decode().strip() == f"failed to stat {tmp_path / 'missing'}: stat {tmp_path / 'missing'}: no such file or directory"
    result = daemon.cli("build", "--secret", "id=x,color=blue", str(ctx), check=False)
    assert result.returncode == 125 and "unexpected key 'color' in 'color=blue'" in result.stderr.decode()
    result = daemon.cli("build", "--secret", "src=/etc/hostname", str(ctx), check=False)
    assert result.returncode == 125 and "secret missing ID" in result.stderr.decode()


def test_secret_with_a_compressed_context_on_stdin(daemon, tmp_path):
    (tmp_path / "tok").write_bytes(b"stdin-secret")
    context = tar_bytes({"Dockerfile": b"FROM busybox\nRUN --mount=type=secret,id=tok,required cat /run/secrets/tok > /seen\n"},
                        "w:gz")
    daemon.cli("build", "--secret", f"id=tok,src={tmp_path / 'tok'}", "-t", "bt-secret-stdin", "-", input=context)
    assert daemon.cli("run", "--rm", "bt-secret-stdin", "cat", "/seen").stdout == b"stdin-secret"
