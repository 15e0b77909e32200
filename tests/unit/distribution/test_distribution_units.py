# SPDX-License-Identifier: Apache-2.0
"""Pure pieces of the registry client: challenges, credentials (config.json and a real
credential-helper program), insecure-registry rules, platform selection, layer inflation."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import stat

import pytest

from dockyard.distribution.client import BlobReader, parse_challenge
from dockyard.distribution.credentials import AuthConfig, CredentialStore, decode_header
from dockyard.distribution.hosts import RegistryHosts
from dockyard.distribution.pull import Inflater, select_platform
from dockyard.errors import InvalidParameter, NotFound


def test_bearer_and_basic_challenges():
    c = parse_challenge('Bearer realm="https://auth.example/token",service="registry.example",'
                        'scope="repository:a/b:pull,push"')
    assert c is not None and c.scheme == "bearer"
    assert c.params == {"realm": "https://auth.example/token", "service": "registry.example",
                        "scope": "repository:a/b:pull,push"}
    assert parse_challenge('Basic realm="x"').scheme == "basic"
    assert parse_challenge("") is None


def test_config_json_round_trip(tmp_path):
    store = CredentialStore(tmp_path)
    store.store(AuthConfig("me", "pw:with:colons", "127.0.0.1:5000"))
    doc = json.loads((tmp_path / "config.json").read_text())
    assert base64.b64decode(doc["auths"]["127.0.0.1:5000"]["auth"]) == b"me:pw:with:colons"
    got = store.get("127.0.0.1:5000")
    assert (got.username, got.password) == ("me", "pw:with:colons")
    store.store(AuthConfig("hub", "x", "docker.io"))
    assert "https://index.docker.io/v1/" in json.loads((tmp_path / "config.json").read_text())["auths"]
    assert store.erase("127.0.0.1:5000") and not store.erase("127.0.0.1:5000")
    assert store.get("127.0.0.1:5000").empty


def test_credential_helper_protocol(tmp_path, monkeypatch):
    # A real docker-credential-* program that keeps secrets in a file.
    helper = tmp_path / "bin" / "docker-credential-filetest"
    helper.parent.mkdir()
    db = tmp_path / "secrets.json"
    helper.write_text(f"""#!/usr/bin/env python3
import json, sys, os
db = {str(db)!r}
data = json.load(open(db)) if os.path.exists(db) else {{}}
action = sys.argv[1]
payload = sys.stdin.read()
if action == "store":
    d = json.loads(payload); data[d["ServerURL"]] = d; json.dump(data, open(db, "w"))
elif action == "get":
    if payload.strip() not in data: print("credentials not found in native keychain"); sys.exit(1)
    print(json.dumps(data[payload.strip()]))
elif action == "erase":
    data.pop(payload.strip(), None); json.dump(data, open(db, "w"))
""")
    helper.chmod(helper.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{helper.parent}:{os.environ['PATH']}")
    (tmp_path / "config.json").write_text(json.dumps({"credHelpers": {"reg.test:443": "filetest"}}))
    store = CredentialStore(tmp_path)
    store.store(AuthConfig("u", "secret", "reg.test:443"))
    assert json.loads(db.read_text())["reg.test:443"]["Secret"] == "secret"
    assert "auth" not in json.loads((tmp_path / "config.json").read_text())["auths"]["reg.test:443"]
    got = store.get("reg.test:443")
    assert (got.username, got.password) == ("u", "secret")
    store.erase("reg.test:443")
    assert store.get("reg.test:443").empty


def test_x_registry_auth_header():
    header = AuthConfig("a", "b", "h:1").encode()
    assert decode_header(header) == AuthConfig("a", "b", "h:1")
    assert decode_header("e30=").empty and decode_header("garbage!").empty


def test_insecure_rules():
    hosts = RegistryHosts(insecure=["10.1.0.0/16", "myreg.test:5000"])
    assert hosts.is_insecure("127.0.0.1:5000") and hosts.is_insecure("localhost:1234")
    assert hosts.is_insecure("127.8.9.10") and hosts.is_insecure("[::1]:5000")
    assert hosts.is_insecure("10.1.2.3:5000") and not hosts.is_insecure("10.2.0.1:5000")
    assert hosts.is_insecure("myreg.test:5000")
    assert not RegistryHosts().is_insecure("10.1.2.3:5000")
    endpoints = RegistryHosts(mirrors=["https://mirror.test"]).endpoints("docker.io")
    assert [e.url for e in endpoints] == ["https://mirror.test", "https://registry-1.docker.io"]
    assert [e.url for e in RegistryHosts(mirrors=["https://m.test"]).endpoints("docker.io", push=True)] == \
        ["https://registry-1.docker.io"]


def test_platform_selection():
    entries = [
        {"digest": "a", "platform": {"os": "linux", "architecture": "arm", "variant": "v7"}},
        {"digest": "b", "platform": {"os": "linux", "architecture": "amd64"}},
        {"digest": "c", "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
        {"digest": "d", "platform": {"os": "windows", "architecture": "amd64"}},
    ]
    assert select_platform(entries, "linux/amd64")["digest"] == "b"
    assert select_platform(entries, "linux/arm/v7")["digest"] == "a"
    assert select_platform(entries, "linux/arm64")["digest"] == "c"
    assert select_platform(entries, "windows/amd64")["digest"] == "d"
    with pytest.raises(NotFound, match="no matching manifest for linux/s390x"):
        select_platform(entries, "linux/s390x")


def test_inflater_gzip_members_zstd_and_plain():
    tar = os.urandom(3 << 20)
    two_members = gzip.compress(tar[:1000]) + gzip.compress(tar[1000:])
    assert _read_all(Inflater(io.BytesIO(two_members))) == tar
    zstandard = pytest.importorskip("zstandard")
    assert _read_all(Inflater(io.BytesIO(zstandard.ZstdCompressor().compress(tar)))) == tar
    assert _read_all(Inflater(io.BytesIO(tar))) == tar
    with pytest.raises(InvalidParameter):
        _read_all(Inflater(io.BytesIO(gzip.compress(tar)[:-100])))


def test_blob_reader_rejects_bad_digest_form():
    with pytest.raises(InvalidParameter):
        BlobReader(None, "a", "md5:abc", None)  # type: ignore[arg-type]
    assert hashlib.sha256(b"").hexdigest()


def _read_all(reader) -> bytes:
    out = []
    while chunk := reader.read(10240):
        out.append(chunk)
    return b"".join(out)
