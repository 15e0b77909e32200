# SPDX-License-Identifier: Apache-2.0
"""A registry client for the OCI distribution spec / Docker Registry HTTP API v2.

One `Registry` talks to one registry for one repository operation (a pull, a push, a
login). It picks an endpoint (HTTPS, or plain HTTP where `hosts` allows it), answers
`WWW-Authenticate` challenges (Bearer tokens from the realm with service and scope, or
Basic), follows redirects (without the credentials when the host changes), retries
connection failures, and resumes interrupted blob downloads with `Range`.

It is blocking, on the standard library's http.client, by design: a layer's bytes go
socket → digest → inflate → tar unpack → files in one worker thread, and handing each
chunk between an event loop and that thread would cost more than it saves. Callers in
the daemon run it in threads; each thread gets its own keep-alive connections.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import logging
import re
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from dockyard import __version__
from dockyard.distribution.credentials import AuthConfig
from dockyard.distribution.hosts import Endpoint, RegistryHosts
from dockyard.errors import DockyardError, Forbidden, InvalidParameter, NotFound

log = logging.getLogger("dockyard.distribution")

USER_AGENT = f"dockyard/{__version__}"
CHUNK = 1 << 20
RETRIES = 3
_CHALLENGE_RE = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))')


class RegistryError(DockyardError):
    """The registry answered with an error, or could not be reached."""


class Unauthorized(DockyardError):
    status = 401


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes = b""
    raw: http.client.HTTPResponse | None = None  # set when streaming

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name, default)


@dataclass
class Challenge:
    scheme: str  # "bearer" or "basic"
    params: dict[str, str] = field(default_factory=dict)


class Registry:
    """A session with one registry: endpoint, auth state, per-thread connections."""

    def __init__(self, domain: str, hosts: RegistryHosts | None = None,
                 auth: AuthConfig | None = None, *, push: bool = False):
        self.domain = domain
        self.hosts = hosts or RegistryHosts()
        self.auth = auth or AuthConfig()
        self.push = push
        self._endpoint: Endpoint | None = None
        self._challenge: Challenge | None = None
        self._tokens: dict[str, str] = {}
        self._lock = threading.Lock()
        self._local = threading.local()

    # ── entry points ────────────────────────────────────────────────────────────

    def ping(self) -> Endpoint:
        """Find a working endpoint (GET /v2/) and learn its auth challenge."""
        with self._lock:
            if self._endpoint is not None:
                return self._endpoint
            errors: list[str] = []
            for endpoint in self.hosts.endpoints(self.domain, push=self.push):
                candidates = [endpoint]
                if endpoint.insecure:
                    candidates.append(Endpoint("http", endpoint.host, None, True, endpoint.mirror))
                for candidate in candidates:
                    try:
                        resp = self._raw(candidate, "GET", "/v2/", {}, None)
                    except (OSError, http.client.HTTPException) as e:
                        errors.append(f"{candidate.url}: {_reason(e)}")
                        continue
                    if resp.status in (200, 401):
                        self._endpoint = candidate
                        self._challenge = parse_challenge(resp.header("WWW-Authenticate"))
                        return candidate
                    errors.append(f"{candidate.url}/v2/: HTTP {resp.status}")
            raise RegistryError(
                f"Get \"https://{self.domain}/v2/\": " + "; ".join(errors or ["no endpoint"]))

    def login(self) -> None:
        """Check the credentials: GET /v2/ with them must not answer 401."""
        self.ping()
        resp = self.request("GET", "/v2/", scope=None)
        if resp.status == 401:
            raise Unauthorized(f"login attempt to {self._endpoint.url if self._endpoint else self.domain}/v2/ "
                               "failed with status: 401 Unauthorized")

    def request(self, method: str, path: str, *, scope: str | None, headers: dict[str, str] | None = None,
                body: bytes | Iterable[bytes] | None = None, stream: bool = False,
                expect: tuple[int, ...] = ()) -> Response:
        """One request with auth, redirects and retries of connection errors.

        `scope` is the token scope the request needs (`repository:a/b:pull`). A status
        outside `expect` (if given) raises the registry's error as RegistryError.
        Streamed bodies (iterables) are sent once: they are not retried.
        """
        endpoint = self.ping()
        headers = dict(headers or {})
        authorized = False
        for attempt in range(RETRIES + 1):
            self._authorize(headers, scope)
            try:
                resp = self._follow(endpoint, method, path, headers, body, stream)
            except (OSError, http.client.HTTPException) as e:
                if attempt >= RETRIES or not isinstance(body, bytes | None):
                    raise RegistryError(f"{method} {endpoint.url}{path}: {_reason(e)}") from e
                time.sleep(0.2 * 2 ** attempt)
                continue
            if resp.status == 401 and not authorized:
                challenge = parse_challenge(resp.header("WWW-Authenticate"))
                if challenge is not None and (self._has_credentials() or challenge.scheme == "bearer"):
                    _drain(resp)
                    self._challenge = challenge
                    self._tokens.pop(_scope_key(scope, challenge), None)
                    authorized = True
                    if self._authorize(headers, scope, fresh=True) and isinstance(body, bytes | None):
                        continue
            if expect and resp.status not in expect:
                raise error_from(resp, method, path)
            return resp
        raise RegistryError(f"{method} {path}: too many retries")

    def get_json(self, path: str, scope: str, accept: Iterable[str] = ()) -> tuple[Any, Response]:
        headers = {"Accept": ", ".join(accept)} if accept else {}
        resp = self.request("GET", path, scope=scope, headers=headers, expect=(200,))
        return resp.json(), resp

    def open_blob(self, repo: str, digest: str, size: int | None = None) -> BlobReader:
        """A reader of a blob that verifies size and digest and resumes after failures."""
        return BlobReader(self, repo, digest, size)

    def blob_exists(self, repo: str, digest: str) -> int | None:
        """The blob's size if the repository has it (HEAD), else None."""
        resp = self.request("HEAD", f"/v2/{repo}/blobs/{digest}", scope=pull_push(repo, self.push))
        if resp.status == 200:
            return int(resp.header("Content-Length", "0") or 0)
        if resp.status == 404:
            return None
        raise error_from(resp, "HEAD", f"/v2/{repo}/blobs/{digest}")

    def base_url(self) -> str:
        return self.ping().url

    # ── auth ────────────────────────────────────────────────────────────────────

    def _has_credentials(self) -> bool:
        return not self.auth.empty

    def _authorize(self, headers: dict[str, str], scope: str | None, fresh: bool = False) -> bool:
        challenge = self._challenge
        headers.pop("Authorization", None)
        if challenge is None:
            return False
        if challenge.scheme == "basic":
            if not self._has_credentials():
                return False
            pair = f"{self.auth.username}:{self.auth.password}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
            return True
        if challenge.scheme == "bearer":
            if self.auth.registry_token:
                headers["Authorization"] = "Bearer " + self.auth.registry_token
                return True
            key = _scope_key(scope, challenge)
            token = self._tokens.get(key)
            if token is None:
                token = self._fetch_token(challenge, scope)
                self._tokens[key] = token
            headers["Authorization"] = "Bearer " + token
            return True
        return False

    def _fetch_token(self, challenge: Challenge, scope: str | None) -> str:
        realm = challenge.params.get("realm")
        if not realm:
            raise RegistryError("bearer challenge without a realm")
        query: list[tuple[str, str]] = []
        if challenge.params.get("service"):
            query.append(("service", challenge.params["service"]))
        for item in (scope or challenge.params.get("scope") or "").split(" "):
            if item:
                query.append(("scope", item))
        headers: dict[str, str] = {}
        if self._has_credentials():
            if self.auth.identity_token:
                # OAuth2 refresh token (what `docker login` gets from some registries).
                form = urllib.parse.urlencode([
                    ("grant_type", "refresh_token"), ("refresh_token", self.auth.identity_token),
                    ("client_id", "dockyard"), *query]).encode()
                resp = self._url_request("POST", realm, {
                    "Content-Type": "application/x-www-form-urlencoded"}, form)
                return _token_from(resp)
            query.append(("account", self.auth.username))
            pair = f"{self.auth.username}:{self.auth.password}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        separator = "&" if "?" in realm else "?"
        resp = self._url_request("GET", realm + separator + urllib.parse.urlencode(query), headers, None)
        return _token_from(resp)

    def _url_request(self, method: str, url: str, headers: dict[str, str], body: bytes | None) -> Response:
        parts = urllib.parse.urlsplit(url)
        endpoint = Endpoint(parts.scheme, parts.netloc,
                            self.hosts.tls_context(parts.netloc) if parts.scheme == "https" else None)
        path = parts.path + ("?" + parts.query if parts.query else "")
        try:
            resp = self._raw(endpoint, method, path or "/", headers, body)
        except (OSError, http.client.HTTPException) as e:
            raise RegistryError(f"getting a token from {url}: {_reason(e)}") from e
        if resp.status == 401:
            raise Unauthorized(f"{method} {url}: unauthorized: {_error_text(resp) or 'authentication required'}")
        if resp.status != 200:
            raise RegistryError(f"{method} {url}: HTTP {resp.status}: {_error_text(resp)}")
        return resp

    # ── transport ───────────────────────────────────────────────────────────────

    def _follow(self, endpoint: Endpoint, method: str, path: str, headers: dict[str, str],
                body: Any, stream: bool) -> Response:
        for _ in range(5):
            resp = self._raw(endpoint, method, path, headers, body, stream=stream)
            if resp.status not in (301, 302, 303, 307, 308) or not resp.header("Location"):
                return resp
            _drain(resp)
            target = urllib.parse.urljoin(f"{endpoint.url}{path}", resp.header("Location"))
            parts = urllib.parse.urlsplit(target)
            if parts.netloc != endpoint.host or parts.scheme != endpoint.scheme:
                # Blob storage elsewhere: it authenticates by the signed URL, not our token.
                headers = {k: v for k, v in headers.items() if k != "Authorization"}
                endpoint = Endpoint(parts.scheme, parts.netloc,
                                    self.hosts.tls_context(parts.netloc) if parts.scheme == "https" else None)
            path = parts.path + ("?" + parts.query if parts.query else "")
            if resp.status == 303:
                method, body = "GET", None
        raise RegistryError(f"{method} {path}: too many redirects")

    def _raw(self, endpoint: Endpoint, method: str, path: str, headers: dict[str, str],
             body: Any, *, stream: bool = False) -> Response:
        conn = self._connection(endpoint)
        all_headers = {"User-Agent": USER_AGENT, "Docker-Distribution-Api-Version": "registry/2.0", **headers}
        try:
            if body is not None and not isinstance(body, bytes | bytearray):
                conn.request(method, path, body=body, headers=all_headers, encode_chunked=True)
            else:
                conn.request(method, path, body=body, headers=all_headers)
            raw = conn.getresponse()
        except (OSError, http.client.HTTPException):
            self._drop(endpoint)
            raise
        if stream and method != "HEAD" and raw.status < 300:
            return Response(raw.status, raw.headers, raw=raw)
        data = raw.read()
        if raw.will_close:
            self._drop(endpoint)
        return Response(raw.status, raw.headers, data)

    def _connection(self, endpoint: Endpoint) -> http.client.HTTPConnection:
        conns: dict[str, http.client.HTTPConnection] = self._local.__dict__.setdefault("conns", {})
        key = endpoint.url
        conn = conns.get(key)
        if conn is None:
            if endpoint.scheme == "https":
                conn = http.client.HTTPSConnection(endpoint.host, timeout=60, context=endpoint.tls)
            else:
                conn = http.client.HTTPConnection(endpoint.host, timeout=60)
            conn.connect()
            # Big socket buffers: layers are the bulk of the traffic.
            conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
            conns[key] = conn
        return conn

    def _drop(self, endpoint: Endpoint) -> None:
        conns: dict[str, http.client.HTTPConnection] = self._local.__dict__.setdefault("conns", {})
        conn = conns.pop(endpoint.url, None)
        if conn is not None:
            conn.close()

    def release(self, resp: Response) -> None:
        """Done with a streamed response: keep the connection if it was read to the end."""
        if resp.raw is not None and not resp.raw.isclosed():
            self._drop(self.ping())

    def close(self) -> None:
        for conn in self._local.__dict__.get("conns", {}).values():
            conn.close()
        self._local.__dict__["conns"] = {}


class BlobReader:
    """A blob being downloaded: hashes every byte, checks size and digest at the end,
    and after a dropped connection continues with `Range: bytes=<offset>-`."""

    def __init__(self, registry: Registry, repo: str, digest: str, size: int | None):
        algorithm, _, expected = digest.partition(":")
        if algorithm != "sha256" or not re.fullmatch(r"[a-f0-9]{64}", expected):
            raise InvalidParameter(f"unsupported digest {digest!r}")
        self.registry, self.repo, self.digest, self.expected_size = registry, repo, digest, size
        self.offset = 0
        self._hash = hashlib.sha256()
        self._resp: Response | None = None
        self._done = False
        self.on_progress: Any = None  # called with the byte count after each read

    def read(self, n: int = -1) -> bytes:
        if self._done:
            return b""
        n = CHUNK if n is None or n < 0 else n
        for attempt in range(RETRIES + 1):
            try:
                if self._resp is None:
                    self._open()
                assert self._resp is not None and self._resp.raw is not None
                data = self._resp.raw.read1(n) if hasattr(self._resp.raw, "read1") else self._resp.raw.read(n)
            except (OSError, http.client.HTTPException) as e:
                self._reset()
                if attempt >= RETRIES:
                    raise RegistryError(f"downloading {self.digest}: {_reason(e)}") from e
                log.info("download of %s interrupted at %d: %s; resuming", self.digest, self.offset, _reason(e))
                time.sleep(0.2 * 2 ** attempt)
                continue
            if not data:
                if self.expected_size is not None and self.offset < self.expected_size:
                    self._reset()
                    if attempt >= RETRIES:
                        raise RegistryError(f"downloading {self.digest}: connection closed at byte {self.offset}")
                    continue
                self._finish()
                return b""
            self.offset += len(data)
            if self.expected_size is not None and self.offset > self.expected_size:
                raise InvalidParameter(f"blob {self.digest}: more data than its size {self.expected_size}")
            self._hash.update(data)
            if self.on_progress is not None:
                self.on_progress(self.offset)
            return data
        raise RegistryError(f"downloading {self.digest}: too many retries")

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def close(self) -> None:
        self._reset()

    def _open(self) -> None:
        headers = {"Range": f"bytes={self.offset}-"} if self.offset else {}
        path = f"/v2/{self.repo}/blobs/{self.digest}"
        resp = self.registry.request("GET", path, scope=pull_push(self.repo, False),
                                     headers=headers, stream=True)
        if resp.status == 200 and self.offset:
            # The registry ignored the Range: skip what we already have (hashed already).
            skip = self.offset
            while skip:
                assert resp.raw is not None
                chunk = resp.raw.read(min(skip, CHUNK))
                if not chunk:
                    raise RegistryError(f"downloading {self.digest}: short body")
                skip -= len(chunk)
        elif resp.status not in (200, 206):
            raise error_from(resp, "GET", path)
        self._resp = resp

    def _reset(self) -> None:
        if self._resp is not None:
            self.registry.release(self._resp)
            self._resp = None

    def _finish(self) -> None:
        self._done = True
        if self._resp is not None and self._resp.raw is not None:
            self._resp.raw.close()
        self._resp = None
        actual = "sha256:" + self._hash.hexdigest()
        if self.expected_size is not None and self.offset != self.expected_size:
            raise InvalidParameter(f"blob {self.digest}: size {self.offset}, expected {self.expected_size}")
        if actual != self.digest:
            raise InvalidParameter(f"digest mismatch for blob {self.digest}: got {actual}")


# ── helpers ─────────────────────────────────────────────────────────────────────


def pull_push(repo: str, push: bool) -> str:
    return f"repository:{repo}:{'pull,push' if push else 'pull'}"


def parse_challenge(header: str | None) -> Challenge | None:
    """`Bearer realm="…",service="…",scope="…"` or `Basic realm="…"`."""
    if not header:
        return None
    scheme, _, rest = header.strip().partition(" ")
    params = {}
    for match in _CHALLENGE_RE.finditer(rest):
        value = match.group(2) if match.group(2) is not None else match.group(3)
        params[match.group(1).lower()] = value.replace('\\"', '"')
    return Challenge(scheme.lower(), params)


_STATUS_TEXT = {401: "unauthorized: authentication required", 403: "denied: requested access to the resource is denied",
                404: "not found"}


def error_from(resp: Response, method: str, path: str) -> DockyardError:
    """A typed error from a registry's `{"errors": [{"code", "message"}]}` answer."""
    # A HEAD (blob exists?) answer has no body: say what its status means, as Docker does.
    text = _error_text(resp) or _STATUS_TEXT.get(resp.status) or f"HTTP {resp.status}"
    if resp.status == 401:
        return Unauthorized(text)
    if resp.status == 403:
        return Forbidden(text)
    if resp.status == 404:
        return NotFound(text)
    if resp.status == 400:
        return InvalidParameter(text)
    return RegistryError(f"{method} {path}: {text}")


def _error_text(resp: Response) -> str:
    if resp.raw is not None:
        try:
            resp.body = resp.raw.read()
        except (OSError, http.client.HTTPException):
            resp.body = b""
    try:
        doc = json.loads(resp.body)
    except ValueError:
        return resp.body.decode(errors="replace").strip()[:200]
    errors = doc.get("errors") if isinstance(doc, dict) else None
    if isinstance(errors, list) and errors:
        parts = []
        for e in errors:
            code = str(e.get("code", "")).lower().replace("_", " ")
            parts.append(f"{code}: {e.get('message', '')}".strip(": "))
        return "; ".join(parts)
    if isinstance(doc, dict) and doc.get("details"):
        return str(doc["details"])
    return ""


def _token_from(resp: Response) -> str:
    doc = resp.json()
    token = (doc or {}).get("token") or (doc or {}).get("access_token")
    if not token:
        raise RegistryError("the token server answered without a token")
    return str(token)


def _scope_key(scope: str | None, challenge: Challenge) -> str:
    return scope or challenge.params.get("scope", "")


def _drain(resp: Response) -> None:
    if resp.raw is not None:
        try:
            resp.raw.read()
        except (OSError, http.client.HTTPException):
            pass


def _reason(e: BaseException) -> str:
    if isinstance(e, ssl.SSLCertVerificationError):
        return f"tls: failed to verify certificate: {e.verify_message}"
    if isinstance(e, ConnectionRefusedError):
        return "connect: connection refused"
    return str(e) or type(e).__name__


def iter_stream(resp: Response) -> Iterator[bytes]:
    assert resp.raw is not None
    while chunk := resp.raw.read(CHUNK):
        yield chunk
