# SPDX-License-Identifier: Apache-2.0
"""`dockyard registry serve`: an OCI distribution-spec registry over HTTP(S).

Routes (all answer `Docker-Distribution-API-Version: registry/2.0`)::

    GET  /v2/                                          version check (and auth challenge)
    GET|HEAD|PUT|DELETE /v2/<name>/manifests/<ref>     by tag or digest
    GET|HEAD|DELETE     /v2/<name>/blobs/<digest>      Range requests answered
    POST /v2/<name>/blobs/uploads/[?digest=|?mount=&from=]   start, monolithic, or mount
    GET|PATCH|PUT|DELETE /v2/<name>/blobs/uploads/<uuid>     chunked upload (Content-Range)
    GET  /v2/<name>/tags/list, /v2/_catalog            with n/last paging and Link
    GET  /v1/search?q=&n=                              Docker's search API
    GET  /token                                        bearer tokens (auth mode "token")

Auth: none; `--htpasswd` (bcrypt or crypt(3) entries) with Basic challenges; or token
mode, where `/token` checks the Basic credentials and issues HMAC-signed bearer tokens
carrying the granted scope. Storage is `registry/storage.py`, run in worker threads.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import queue
import secrets
import ssl
import threading
import time
import urllib.parse
import warnings
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from dockyard.errors import DockyardError, NotFound
from dockyard.registry.storage import BlobUnknown, RangeError, RegistryStorage, check_name

log = logging.getLogger("dockyard.registry")

SERVICE = "dockyard-registry"
TOKEN_TTL = 300
_STORAGE: Any = web.AppKey("storage", RegistryStorage) if hasattr(web, "AppKey") else "storage"
_AUTH: Any = web.AppKey("auth", object) if hasattr(web, "AppKey") else "auth"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Auth:
    """Who may do what: `mode` is "none", "basic" or "token"."""

    mode: str = "none"
    users: dict[str, str] = field(default_factory=dict)  # user → password hash
    anonymous_pull: bool = False
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))

    def check_password(self, user: str, password: str) -> bool:
        stored = self.users.get(user)
        if stored is None:
            return False
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt  # bcrypt ($2y$) and the others libcrypt knows; stdlib up to 3.12

        if stored.startswith("$2y$"):
            stored_c = "$2b$" + stored[4:]  # same algorithm; some libcrypt builds only know 2b
            return hmac.compare_digest(crypt.crypt(password, stored_c) or "", stored_c)
        return hmac.compare_digest(crypt.crypt(password, stored) or "", stored)

    def issue(self, user: str, access: list[dict[str, Any]]) -> str:
        claims = {"sub": user, "access": access, "exp": int(time.time()) + TOKEN_TTL}
        payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
        mac = hmac.new(self.secret, payload.encode(), hashlib.sha256).hexdigest()
        return f"{payload}.{mac}"

    def verify(self, token: str) -> dict[str, Any] | None:
        payload, _, mac = token.partition(".")
        if not hmac.compare_digest(hmac.new(self.secret, payload.encode(), hashlib.sha256).hexdigest(), mac):
            return None
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return claims if claims.get("exp", 0) > time.time() else None


def load_htpasswd(path: str) -> dict[str, str]:
    users = {}
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and ":" in line:
            user, _, hashed = line.partition(":")
            users[user] = hashed
    return users


def make_app(root: Path, auth: Auth | None = None) -> web.Application:
    storage = RegistryStorage(root)
    storage.cleanup()
    app = web.Application(middlewares=[_errors, _authenticate], client_max_size=0)
    app[_STORAGE] = storage
    app[_AUTH] = auth or Auth()
    name = "/v2/{name:[a-z0-9][a-z0-9._/-]*}"
    add = app.router.add_route
    add("GET", "/v2/", _base)
    add("GET", "/v2/_catalog", _catalog)
    add("GET", "/token", _token)
    add("GET", "/v1/search", _search)
    add("POST", name + "/blobs/uploads/", _upload_start)
    add("GET", name + "/blobs/uploads/{uuid}", _upload_status)
    add("PATCH", name + "/blobs/uploads/{uuid}", _upload_patch)
    add("PUT", name + "/blobs/uploads/{uuid}", _upload_put)
    add("DELETE", name + "/blobs/uploads/{uuid}", _upload_cancel)
    add("GET", name + "/blobs/{digest}", _blob_get)
    add("HEAD", name + "/blobs/{digest}", _blob_head)
    add("DELETE", name + "/blobs/{digest}", _blob_delete)
    add("GET", name + "/manifests/{reference}", _manifest_get)
    add("HEAD", name + "/manifests/{reference}", _manifest_get)
    add("PUT", name + "/manifests/{reference}", _manifest_put)
    add("DELETE", name + "/manifests/{reference}", _manifest_delete)
    add("GET", name + "/tags/list", _tags)
    return app


async def serve(root: Path, addr: str = "127.0.0.1:5000", auth: Auth | None = None,
                tls_cert: str | None = None, tls_key: str | None = None) -> web.AppRunner:
    host, _, port = addr.rpartition(":")
    context = None
    if tls_cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(tls_cert, tls_key)
    runner = web.AppRunner(make_app(root, auth), access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, host.strip("[]") or "127.0.0.1", int(port or 5000), ssl_context=context)
    await site.start()
    log.info("registry listening on %s (%s)", addr, "https" if context else "http")
    return runner


def run(root: Path, addr: str, auth: Auth, tls_cert: str | None, tls_key: str | None) -> None:
    """Serve until SIGINT/SIGTERM."""
    import signal

    async def main() -> None:
        runner = await serve(root, addr, auth, tls_cert, tls_key)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        print(f"listening on {addr}", flush=True)
        await stop.wait()
        await runner.cleanup()

    asyncio.run(main())


# ── middleware ──────────────────────────────────────────────────────────────────


class RegistryHTTPError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    body = json.dumps({"errors": [{"code": code, "message": message, "detail": None}]})
    return web.Response(status=status, text=body, content_type="application/json", headers=headers)


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except RegistryHTTPError as e:
        response = _error(e.status, e.code, e.message, e.headers)
    except BlobUnknown as e:
        response = _error(400, "MANIFEST_BLOB_UNKNOWN", e.message)
    except NotFound as e:
        code = {"manifest unknown": "MANIFEST_UNKNOWN", "blob upload unknown to registry": "BLOB_UPLOAD_UNKNOWN",
                "repository name not known to registry": "NAME_UNKNOWN"}.get(e.message, "BLOB_UNKNOWN")
        response = _error(404, code, e.message)
    except DockyardError as e:
        response = _error(e.status, getattr(e, "code", "UNSUPPORTED" if e.status >= 500 else "BAD_REQUEST")
                          if e.status < 500 else "UNKNOWN", e.message)
    except web.HTTPNotFound:
        response = _error(404, "NOT_FOUND", "not found")
    except web.HTTPMethodNotAllowed:
        response = _error(405, "UNSUPPORTED", "method not allowed")
    if not response.prepared:
        response.headers["Docker-Distribution-API-Version"] = "registry/2.0"
    return response


@web.middleware
async def _authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    auth: Auth = request.app[_AUTH]
    if auth.mode == "none" or request.path == "/token":
        return await handler(request)
    needed = _needed_scope(request)
    header = request.headers.get("Authorization", "")
    if auth.mode == "basic":
        user, password = _basic(header)
        if user is not None and auth.check_password(user, password):
            return await handler(request)
        raise RegistryHTTPError(401, "UNAUTHORIZED", "authentication required",
                                {"WWW-Authenticate": f'Basic realm="{SERVICE}"'})
    claims = auth.verify(header[7:]) if header.lower().startswith("bearer ") else None
    if claims is not None and _granted(claims.get("access") or [], needed):
        return await handler(request)
    realm = f"{request.scheme}://{request.host}/token"
    challenge = f'Bearer realm="{realm}",service="{SERVICE}"'
    if needed:
        challenge += f',scope="{needed[0]}:{needed[1]}:{",".join(needed[2])}"'
    code = "DENIED" if claims is not None else "UNAUTHORIZED"
    raise RegistryHTTPError(401, code, "authentication required", {"WWW-Authenticate": challenge})


def _needed_scope(request: web.Request) -> tuple[str, str, list[str]] | None:
    name = request.match_info.get("name")
    if request.path == "/v2/_catalog":
        return ("registry", "catalog", ["*"])
    if not name:
        return None
    if request.method in ("GET", "HEAD"):
        return ("repository", name, ["pull"])
    if request.method == "DELETE":
        return ("repository", name, ["delete"])
    return ("repository", name, ["pull", "push"])


def _granted(access: list[dict[str, Any]], needed: tuple[str, str, list[str]] | None) -> bool:
    if needed is None:
        return True
    kind, name, actions = needed
    have: set[str] = set()
    for entry in access:
        if entry.get("type") == kind and entry.get("name") == name:
            have.update(entry.get("actions") or [])
    return "*" in have or all(a in have for a in actions)


def _basic(header: str) -> tuple[str | None, str]:
    if not header.lower().startswith("basic "):
        return None, ""
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None, ""
    return user, password


# ── handlers ────────────────────────────────────────────────────────────────────


async def _base(request: web.Request) -> web.Response:
    return web.json_response({})


async def _token(request: web.Request) -> web.Response:
    auth: Auth = request.app[_AUTH]
    user, password = _basic(request.headers.get("Authorization", ""))
    if user is not None:
        if not auth.check_password(user, password):
            raise RegistryHTTPError(401, "UNAUTHORIZED", "authentication required",
                                    {"WWW-Authenticate": f'Basic realm="{SERVICE}"'})
    access = []
    for scope in request.query.getall("scope", []):
        for item in scope.split(" "):
            kind, _, rest = item.partition(":")
            name, _, actions = rest.rpartition(":")
            wanted = [a for a in actions.split(",") if a]
            if user is not None or not auth.users:
                granted = wanted  # an authenticated user (or an open registry) gets what it asks
            elif auth.anonymous_pull:
                granted = [a for a in wanted if a == "pull"]
            else:
                granted = []
            if granted:
                access.append({"type": kind, "name": name, "actions": granted})
    token = auth.issue(user or "", access)
    return web.json_response({"token": token, "access_token": token, "expires_in": TOKEN_TTL,
                              "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})


async def _catalog(request: web.Request) -> web.Response:
    storage: RegistryStorage = request.app[_STORAGE]
    names = await asyncio.to_thread(storage.catalog)
    return _paged(request, "repositories", names, "/v2/_catalog")


async def _tags(request: web.Request) -> web.Response:
    storage: RegistryStorage = request.app[_STORAGE]
    name = request.match_info["name"]
    tags = await asyncio.to_thread(storage.tags, name)
    response = _paged(request, "tags", tags, f"/v2/{name}/tags/list", {"name": name})
    return response


def _paged(request: web.Request, key: str, items: list[str], path: str,
           extra: dict[str, Any] | None = None) -> web.Response:
    last = request.query.get("last")
    if last:
        items = [i for i in items if i > last]
    headers = {}
    n = request.query.get("n")
    if n is not None and n.isdigit():
        count = int(n)
        if len(items) > count:
            query = urllib.parse.urlencode({"n": count, "last": items[count - 1]})
            headers["Link"] = f'<{path}?{query}>; rel="next"'
        items = items[:count]
    return web.json_response({**(extra or {}), key: items}, headers=headers)


async def _search(request: web.Request) -> web.Response:
    storage: RegistryStorage = request.app[_STORAGE]
    query = request.query.get("q", "")
    limit = int(request.query.get("n", "25") or 25)
    names = [n for n in await asyncio.to_thread(storage.catalog) if query in n]
    results = [{"name": n, "description": "", "star_count": 0, "is_official": False,
                "is_automated": False} for n in names[:limit]]
    return web.json_response({"num_results": len(names), "query": query, "page": 1,
                              "page_size": limit, "num_pages": 1, "results": results})


async def _blob_get(request: web.Request) -> web.StreamResponse:
    storage: RegistryStorage = request.app[_STORAGE]
    digest = request.match_info["digest"]
    path = await asyncio.to_thread(storage.blob_path, request.match_info["name"], digest)
    return web.FileResponse(path, headers={"Docker-Content-Digest": digest,
                                           "Content-Type": "application/octet-stream",
                                           "Accept-Ranges": "bytes", "ETag": f'"{digest}"'})


async def _blob_head(request: web.Request) -> web.Response:
    storage: RegistryStorage = request.app[_STORAGE]
    digest = request.match_info["digest"]
    path = await asyncio.to_thread(storage.blob_path, request.match_info["name"], digest)
    size = path.stat().st_size
    return web.Response(status=200, headers={
        "Docker-Content-Digest": digest, "Content-Type": "application/octet-stream",
        "Accept-Ranges": "bytes", "ETag": f'"{digest}"', "Content-Length": str(size)})


async def _blob_delete(request: web.Request) -> web.Response:
    storage: RegistryStorage = request.app[_STORAGE]
    await asyncio.to_thread(storage.delete_blob, request.match_info["name"], request.match_info["digest"])
    return web.Response(status=202, headers={"Content-Length": "0"})


async def _upload_start(request: web.Request) -> web.Response:
    storage: RegistryStorage = request.app[_STORAGE]
    name = request.match_info["name"]
    check_name(name)
    mount, source = request.query.get("mount"), request.query.get("from")
    if mount and source:
        if await asyncio.to_thread(storage.mount, name, mount, source):
            return web.Response(status=201, headers={
                "Location": f"/v2/{name}/blobs/{mount}", "Docker-Content-Digest": mount,
                "Content-Length": "0"})
    uuid = await asyncio.to_thread(storage.start_upload, name)
    digest = request.query.get("digest")
    if digest:  # monolithic upload in the POST body
        await _feed(request, lambda chunks: storage.append(uuid, chunks))
        await asyncio.to_thread(storage.finish_upload, name, uuid, digest)
        return _created(name, digest)
    return _accepted(name, uuid, 0)


async def _upload_status(request: web.Request) -> web.Response:
    storage: RegistryStorage = request.app[_STORAGE]
    uuid = request.match_info["uuid"]
    size = await asyncio.to_thread(storage.upload_size, uuid)
    response = _accepted(request.match_info["name"], uuid, size)
    response.set_status(204)
    return response


async def _upload_patch(request: web.Request) -> web.Response:
    storage: RegistryStorage = request.app[_STORAGE]
    uuid = request.match_info["uuid"]
    start = _content_range_start(request.headers.get("Content-Range"))
    try:
        size = await _feed(request, lambda chunks: storage.append(uuid, chunks, start))
    except RangeError as e:
        raise RegistryHTTPError(416, "BLOB_UPLOAD_INVALID", "requested range not satisfiable",
                                {"Range": f"0-{max(e.size - 1, 0)}"}) from None
    return _accepted(request.match_info["name"], uuid, size)


async def _upload_put(request: web.Request) -> web.Response:
    storage: RegistryStorage = request.app[_STORAGE]
    name, uuid = request.match_info["name"], request.match_info["uuid"]
    digest = request.query.get("digest")
    if not digest:
        raise RegistryHTTPError(400, "DIGEST_INVALID", "digest missing")
    await _feed(request, lambda chunks: storage.append(uuid, chunks))
    await asyncio.to_thread(storage.finish_upload, name, uuid, digest)
    return _created(name, digest)


async def _upload_cancel(request: web.Request) -> web.Response:
    storage: RegistryStorage = request.app[_STORAGE]
    await asyncio.to_thread(storage.cancel_upload, request.match_info["uuid"])
    return web.Response(status=204)


async def _manifest_get(request: web.Request) -> web.Response:
    storage: RegistryStorage = request.app[_STORAGE]
    body, media_type, digest = await asyncio.to_thread(
        storage.get_manifest, request.match_info["name"], request.match_info["reference"])
    headers = {"Docker-Content-Digest": digest, "Content-Type": media_type, "ETag": f'"{digest}"'}
    if request.method == "HEAD":
        return web.Response(status=200, headers={**headers, "Content-Length": str(len(body))})
    return web.Response(body=body, headers=headers)


async def _manifest_put(request: web.Request) -> web.Response:
    storage: RegistryStorage = request.app[_STORAGE]
    name, ref = request.match_info["name"], request.match_info["reference"]
    body = await request.read()
    try:
        doc = json.loads(body)
    except ValueError:
        raise RegistryHTTPError(400, "MANIFEST_INVALID", "manifest invalid") from None
    if not isinstance(doc, dict):
        raise RegistryHTTPError(400, "MANIFEST_INVALID", "manifest invalid")
    media_type = doc.get("mediaType") or request.headers.get("Content-Type", "").split(";")[0]
    referenced = [d.get("digest", "") for d in doc.get("layers") or [] if not d.get("urls")]
    if doc.get("config"):
        referenced.append(doc["config"].get("digest", ""))
    referenced += [d.get("digest", "") for d in doc.get("manifests") or []]
    digest = await asyncio.to_thread(storage.put_manifest, name, ref, body, media_type, referenced)
    return web.Response(status=201, headers={
        "Location": f"/v2/{name}/manifests/{digest}", "Docker-Content-Digest": digest,
        "Content-Length": "0"})


async def _manifest_delete(request: web.Request) -> web.Response:
    storage: RegistryStorage = request.app[_STORAGE]
    await asyncio.to_thread(storage.delete_manifest, request.match_info["name"], request.match_info["reference"])
    return web.Response(status=202, headers={"Content-Length": "0"})


# ── helpers ─────────────────────────────────────────────────────────────────────


def _created(name: str, digest: str) -> web.Response:
    return web.Response(status=201, headers={
        "Location": f"/v2/{name}/blobs/{digest}", "Docker-Content-Digest": digest, "Content-Length": "0"})


def _accepted(name: str, uuid: str, size: int) -> web.Response:
    return web.Response(status=202, headers={
        "Location": f"/v2/{name}/blobs/uploads/{uuid}", "Docker-Upload-UUID": uuid,
        "Range": f"0-{max(size - 1, 0)}", "Content-Length": "0"})


def _content_range_start(value: str | None) -> int | None:
    if not value:
        return None
    start = value.split("=", 1)[-1].split("-", 1)[0].strip()
    if not start.isdigit():
        raise RegistryHTTPError(400, "BLOB_UPLOAD_INVALID", f"bad Content-Range {value!r}")
    return int(start)


async def _feed(request: web.Request, consume: Callable[[Iterator[bytes]], int]) -> int:
    """Hand the request body to `consume` in a worker thread, chunk by chunk as it arrives."""
    chunks: queue.Queue[bytes | None] = queue.Queue(maxsize=16)
    cancelled = threading.Event()

    def iterate() -> Iterator[bytes]:
        while True:
            chunk = chunks.get()
            if chunk is None:
                return
            yield chunk

    task = asyncio.get_running_loop().run_in_executor(None, consume, iterate())
    try:
        async for chunk in request.content.iter_chunked(1 << 20):
            while True:
                try:
                    chunks.put_nowait(chunk)
                    break
                except queue.Full:
                    if task.done():
                        break
                    await asyncio.sleep(0.001)
            if task.done():
                break
    finally:
        cancelled.set()
        while True:
            try:
                chunks.put_nowait(None)
                break
            except queue.Full:
                if task.done():
                    break
                await asyncio.sleep(0.001)
    return await task
