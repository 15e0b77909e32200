# SPDX-License-Identifier: Apache-2.0
"""Registry credentials as Docker keeps them: `~/.docker/config.json` and credential helpers.

`config.json` (or `$DOCKER_CONFIG/config.json`) holds::

    {"auths": {"127.0.0.1:5000": {"auth": base64("user:password")}},
     "credsStore": "pass",                       # all registries through docker-credential-pass
     "credHelpers": {"gcr.io": "gcloud"}}        # one registry through docker-credential-gcloud

A helper speaks Docker's credential-helper protocol on stdin/stdout (`get`, `store`,
`erase`, `list`). Docker Hub's key is `https://index.docker.io/v1/`. The CLI sends the
credentials for one push or pull to the daemon in the `X-Registry-Auth` header (base64url
JSON); the daemon never reads this file. Standard library only: the CLI imports it.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HUB_INDEX = "https://index.docker.io/v1/"
_HUB_ALIASES = ("docker.io", "index.docker.io", "registry-1.docker.io", HUB_INDEX,
                "https://index.docker.io/v1", "index.docker.io/v1")


@dataclass
class AuthConfig:
    username: str = ""
    password: str = ""
    server: str = ""
    identity_token: str = ""
    registry_token: str = ""

    def encode(self) -> str:
        """The X-Registry-Auth header value (base64url of Docker's AuthConfig JSON)."""
        doc: dict[str, str] = {"username": self.username, "password": self.password,
                               "serveraddress": self.server}
        if self.identity_token:
            doc["identitytoken"] = self.identity_token
        if self.registry_token:
            doc["registrytoken"] = self.registry_token
        return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode()

    @property
    def empty(self) -> bool:
        return not (self.username or self.password or self.identity_token or self.registry_token)


def decode_header(value: str | None) -> AuthConfig:
    """Parse an X-Registry-Auth header; a missing or malformed one is anonymous (as Docker)."""
    if not value:
        return AuthConfig()
    try:
        padded = value + "=" * (-len(value) % 4)
        doc = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError):
        return AuthConfig()
    if not isinstance(doc, dict):
        return AuthConfig()
    return auth_from_json(doc)


def auth_from_json(doc: dict[str, Any]) -> AuthConfig:
    lower = {k.lower(): v for k, v in doc.items() if isinstance(v, str)}
    return AuthConfig(lower.get("username", ""), lower.get("password", ""),
                      lower.get("serveraddress", ""), lower.get("identitytoken", ""),
                      lower.get("registrytoken", ""))


def server_key(domain: str) -> str:
    """The config.json key of a registry: Hub's legacy URL, or the host[:port]."""
    if domain in _HUB_ALIASES:
        return HUB_INDEX
    return domain.split("://", 1)[-1].rstrip("/")


def config_dir() -> Path:
    env = os.environ.get("DOCKER_CONFIG")
    return Path(env) if env else Path.home() / ".docker"


class CredentialStore:
    """Reads and writes credentials in config.json, through helpers where configured."""

    def __init__(self, directory: Path | None = None):
        self.path = (directory or config_dir()) / "config.json"

    def get(self, domain: str) -> AuthConfig:
        key = server_key(domain)
        config = self._load()
        helper = self._helper(config, key)
        if helper:
            return _helper_get(helper, key)
        auths = config.get("auths") or {}
        entry = auths.get(key)
        if entry is None:
            # Keys written with a scheme (`https://host`) by older clients.
            entry = next((v for k, v in auths.items() if server_key(k) == key), None)
        if not isinstance(entry, dict):
            return AuthConfig(server=key)
        auth = AuthConfig(server=key, identity_token=entry.get("identitytoken", ""))
        if entry.get("auth"):
            user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
            auth.username, auth.password = user, password
        return auth

    def store(self, auth: AuthConfig) -> None:
        key = server_key(auth.server)
        config = self._load()
        helper = self._helper(config, key)
        auths = config.setdefault("auths", {})
        if helper:
            _helper_call(helper, "store", json.dumps(
                {"ServerURL": key, "Username": auth.username,
                 "Secret": auth.identity_token or auth.password}).encode())
            auths[key] = {}  # Docker keeps an empty entry so `docker logout` knows the name
        else:
            entry: dict[str, str] = {
                "auth": base64.b64encode(f"{auth.username}:{auth.password}".encode()).decode()}
            if auth.identity_token:
                entry = {"auth": base64.b64encode(f"{auth.username}:".encode()).decode(),
                         "identitytoken": auth.identity_token}
            auths[key] = entry
        self._save(config)

    def erase(self, domain: str) -> bool:
        """Forget a registry's credentials; False if none were stored."""
        key = server_key(domain)
        config = self._load()
        helper = self._helper(config, key)
        found = False
        if helper:
            try:
                _helper_call(helper, "erase", key.encode())
                found = True
            except OSError:
                pass
        auths = config.get("auths") or {}
        for k in [k for k in auths if server_key(k) == key]:
            del auths[k]
            found = True
        if found:
            self._save(config)
        return found

    def _helper(self, config: dict[str, Any], key: str) -> str:
        helpers = config.get("credHelpers") or {}
        return helpers.get(key) or config.get("credsStore") or ""

    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text() or "{}")
        except FileNotFoundError:
            return {}
        except ValueError as e:
            raise OSError(f"loading config file {self.path}: {e}") from e
        return data if isinstance(data, dict) else {}

    def _save(self, config: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix="config.json")
        with os.fdopen(fd, "w") as f:
            json.dump(config, f, indent="\t")
            f.write("\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)


def _helper_get(helper: str, key: str) -> AuthConfig:
    try:
        out = _helper_call(helper, "get", key.encode())
    except OSError:
        return AuthConfig(server=key)  # "credentials not found in native keychain"
    doc = json.loads(out)
    user, secret = doc.get("Username", ""), doc.get("Secret", "")
    if user == "<token>":
        return AuthConfig(server=key, identity_token=secret)
    return AuthConfig(user, secret, key)


def _helper_call(helper: str, action: str, data: bytes) -> bytes:
    program = f"docker-credential-{helper}"
    try:
        result = subprocess.run([program, action], input=data, capture_output=True, timeout=60)
    except FileNotFoundError:
        raise OSError(f"{program}: executable file not found in $PATH") from None
    if result.returncode != 0:
        raise OSError((result.stdout or result.stderr).decode(errors="replace").strip())
    return result.stdout
