# SPDX-License-Identifier: Apache-2.0
"""The low-level Engine API client: one method per endpoint, returning the daemon's dicts.

Methods are named after docker-py's low-level API (`containers`, `create_container`,
`inspect_image`, ...) so that code moving between the two reads the same. Every request
uses a fresh connection: a unix-socket connect is cheaper than the bookkeeping needed to
reuse keep-alive connections safely, and streams (logs, pulls, attach) need their own.

The API version is negotiated once, lazily, from `/_ping`'s `Api-Version` header: the
client speaks `API_VERSION` or the daemon's version if that is lower.
"""

from __future__ import annotations

import json

from dockyard import API_VERSION, __version__
from dockyard.client.errors import APIError, DaemonUnavailable
from dockyard.client.hosts import Host, TLSOptions, parse_host, resolve_host, resolve_tls
from dockyard.client.transport import (
    HijackedSocket,
    connect_socket,
    error_message,
    hijack,
    open_connection,
)
from dockyard.client.wire import Response

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from typing import IO, Any

    Body = bytes | IO[bytes] | Iterable[bytes] | None
Filters = dict[str, list[str]]

USER_AGENT = f"Dockyard-Client/{__version__} (linux)"
_READ_SIZE = 65536


class APIClient:
    """A client for one daemon. `autostart` lets it start the default daemon on first use."""

    def __init__(
        self,
        base_url: str | None = None,
        *,
        version: str | None = None,
        timeout: float | None = None,
        autostart: bool = False,
        tls: TLSOptions | None = None,
    ):
        self.base_url = resolve_host(base_url)
        self.host: Host = parse_host(self.base_url)
        if self.host.scheme == "tcp":
            # The flags' settings, else DOCKER_TLS_VERIFY/DOCKER_CERT_PATH.
            self.host.use_tls(tls if tls is not None else resolve_tls())
        self.timeout = timeout
        self.autostart = autostart
        self._version = version
        self._server_version: str | None = None

    # --- system -------------------------------------------------------------------

    @property
    def api_version(self) -> str:
        """The negotiated API version (pings the daemon the first time)."""
        if self._version is None:
            self._negotiate()
        assert self._version is not None
        return self._version

    def ping(self) -> str:
        """The body of `GET /_ping` ("OK"); raises DaemonUnavailable if nothing answers."""
        resp = self._send("GET", "/_ping")
        return _read_all(resp).decode("utf-8", "replace")

    def version(self) -> dict[str, Any]:
        return self._get_json("/version")

    def df(self) -> dict[str, Any]:
        """`GET /system/df`: disk usage of images, containers, volumes, build cache."""
        return self._json("GET", "/system/df")

    def info(self) -> dict[str, Any]:
        return self._get_json("/info")

    # --- containers ---------------------------------------------------------------

    def containers(
        self,
        all: bool = False,
        limit: int | None = None,
        size: bool = False,
        filters: Filters | None = None,
    ) -> list[dict[str, Any]]:
        params = {"all": all, "limit": limit, "size": size, "filters": _filters(filters)}
        return self._get_json("/containers/json", params)

    def create_container(
        self, config: dict[str, Any], name: str | None = None, platform: str | None = None
    ) -> dict[str, Any]:
        """`POST /containers/create`: `config` is Config with HostConfig and NetworkingConfig."""
        return self._json(
            "POST", "/containers/create", {"name": name, "platform": platform}, config
        )

    def inspect_container(self, container: str, size: bool = False) -> dict[str, Any]:
        return self._get_json(f"/containers/{_id(container)}/json", {"size": size})

    def start(self, container: str, detach_keys: str | None = None) -> None:
        self._call("POST", f"/containers/{_id(container)}/start", {"detachKeys": detach_keys})

    def stop(self, container: str, timeout: int | None = None, signal: str | None = None) -> None:
        self._call("POST", f"/containers/{_id(container)}/stop", {"signal": signal, "t": timeout})

    def restart(
        self, container: str, timeout: int | None = None, signal: str | None = None
    ) -> None:
        self._call(
            "POST", f"/containers/{_id(container)}/restart", {"signal": signal, "t": timeout}
        )

    def kill(self, container: str, signal: str | None = None) -> None:
        self._call("POST", f"/containers/{_id(container)}/kill", {"signal": signal})

    def remove_container(
        self, container: str, force: bool = False, v: bool = False, link: bool = False
    ) -> None:
        self._call(
            "DELETE", f"/containers/{_id(container)}", {"force": force, "v": v, "link": link}
        )

    def wait(self, container: str, condition: str | None = None) -> dict[str, Any]:
        """Block until the container reaches `condition`; the body has `StatusCode`."""
        return self._json("POST", f"/containers/{_id(container)}/wait", {"condition": condition})

    def wait_begin(
        self, container: str, condition: str | None = None, header_timeout: float = 5.0
    ) -> PendingWait:
        """Start a wait whose result is read later, as `docker run` does before `start`.

        Docker's daemon sends the response headers as soon as the waiter is registered,
        so once they arrive a following `start` cannot race past the exit. A daemon that
        holds the headers back is tolerated: after `header_timeout` we carry on.
        """
        pending = PendingWait(self, f"/containers/{_id(container)}/wait", {"condition": condition})
        pending.headers_received.wait(header_timeout)
        pending.raise_early_error()
        return pending

    def logs(
        self,
        container: str,
        *,
        stdout: bool = True,
        stderr: bool = True,
        follow: bool = False,
        timestamps: bool = False,
        tail: str | None = None,
        since: str | None = None,
        until: str | None = None,
        details: bool = False,
    ) -> Iterator[bytes]:
        """Raw log bytes as they arrive: stdcopy-framed unless the container has a TTY."""
        params = {
            "stdout": stdout,
            "stderr": stderr,
            "follow": follow,
            "timestamps": timestamps,
            "tail": tail,
            "since": since,
            "until": until,
            "details": details,
        }
        resp = self._send("GET", f"/containers/{_id(container)}/logs", params)
        return iter_chunks(resp)

    def attach_socket(
        self,
        container: str,
        *,
        stdin: bool = False,
        stdout: bool = True,
        stderr: bool = True,
        stream: bool = True,
        logs: bool = False,
        detach_keys: str | None = None,
    ) -> HijackedSocket:
        """A hijacked, bidirectional connection to the container's stdio."""
        params = {
            "stream": stream,
            "stdin": stdin,
            "stdout": stdout,
            "stderr": stderr,
            "logs": logs,
            "detachKeys": detach_keys,
        }
        path = self._url(f"/containers/{_id(container)}/attach") + _query(params)
        sock = self._connect_socket()
        try:
            return hijack(sock, path, headers={"User-Agent": USER_AGENT})
        except BaseException:
            sock.close()
            raise

    def resize(self, container: str, height: int, width: int) -> None:
        self._call("POST", f"/containers/{_id(container)}/resize", {"h": height, "w": width})

    def pause(self, container: str) -> None:
        self._call("POST", f"/containers/{_id(container)}/pause")

    def unpause(self, container: str) -> None:
        self._call("POST", f"/containers/{_id(container)}/unpause")

    def rename(self, container: str, name: str) -> None:
        self._call("POST", f"/containers/{_id(container)}/rename", {"name": name})

    def update_container(self, container: str, update: dict[str, Any]) -> dict[str, Any]:
        """`POST /containers/{id}/update` with Resources and RestartPolicy; has `Warnings`."""
        return self._json("POST", f"/containers/{_id(container)}/update", None, update) or {}

    def top(self, container: str, ps_args: str | None = None) -> dict[str, Any]:
        return self._get_json(f"/containers/{_id(container)}/top", {"ps_args": ps_args})

    def diff(self, container: str) -> list[dict[str, Any]]:
        """`GET /containers/{id}/changes`: `{"Path", "Kind"}` (0 changed, 1 added, 2 deleted)."""
        return self._get_json(f"/containers/{_id(container)}/changes") or []

    def export(self, container: str) -> Iterator[bytes]:
        """`GET /containers/{id}/export`: the container's filesystem as a tar stream."""
        return iter_chunks(self._send("GET", f"/containers/{_id(container)}/export"))

    def stats(
        self, container: str, stream: bool = True, one_shot: bool = False
    ) -> tuple[Iterator[dict[str, Any]], str]:
        """`GET /containers/{id}/stats`: the stats documents as they arrive, and the
        daemon's OS ("linux", "windows") from its Server header."""
        params = {"stream": "1" if stream else "0", "one-shot": one_shot}
        resp = self._send("GET", f"/containers/{_id(container)}/stats", params)
        server = resp.getheader("Server") or ""
        os_type = server.rsplit("(", 1)[-1].rstrip(")").strip().lower() if "(" in server else ""
        return iter_json(iter_chunks(resp)), os_type

    def prune_containers(self, filters: Filters | None = None) -> dict[str, Any]:
        return self._json("POST", "/containers/prune", {"filters": _filters(filters)}) or {}

    def commit(
        self,
        container: str,
        repository: str = "",
        tag: str = "",
        *,
        message: str = "",
        author: str = "",
        changes: list[str] | None = None,
        pause: bool = True,
        config: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """`POST /commit`: a new image from the container; the answer has its `Id`."""
        params = {
            "container": container,
            "repo": repository,
            "tag": tag,
            "comment": message,
            "author": author,
            "changes": changes or None,
            "pause": None if pause else "0",
        }
        return self._json("POST", "/commit", params, config)

    # --- exec ---------------------------------------------------------------------

    def exec_create(self, container: str, config: dict[str, Any]) -> dict[str, Any]:
        """`POST /containers/{id}/exec`; the answer's `Id` names the exec instance."""
        return self._json("POST", f"/containers/{_id(container)}/exec", None, config)

    def exec_start(self, exec_id: str, config: dict[str, Any]) -> None:
        """Start a detached exec (`{"Detach": true, ...}`); returns once it runs."""
        data = json.dumps(config).encode()
        _read_all(
            self._send(
                "POST",
                f"/exec/{_id(exec_id)}/start",
                data=data,
                headers={"Content-Type": "application/json"},
            )
        )

    def exec_attach(self, exec_id: str, config: dict[str, Any]) -> HijackedSocket:
        """Start an exec attached: a hijacked connection to its stdio."""
        path = self._url(f"/exec/{_id(exec_id)}/start")
        sock = self._connect_socket()
        try:
            return hijack(
                sock,
                path,
                body=json.dumps(config).encode(),
                headers={"User-Agent": USER_AGENT},
            )
        except BaseException:
            sock.close()
            raise

    def exec_inspect(self, exec_id: str) -> dict[str, Any]:
        return self._get_json(f"/exec/{_id(exec_id)}/json")

    def exec_resize(self, exec_id: str, height: int, width: int) -> None:
        self._call("POST", f"/exec/{_id(exec_id)}/resize", {"h": height, "w": width})

    # --- archives (cp) ------------------------------------------------------------

    def stat_path(self, container: str, path: str) -> dict[str, Any]:
        """`HEAD /containers/{id}/archive`: the PathStat of `path` in the container."""
        resp = self._send("HEAD", f"/containers/{_id(container)}/archive", {"path": path})
        header = resp.getheader("X-Docker-Container-Path-Stat")
        _read_all(resp)
        return decode_path_stat(header)

    def get_archive(self, container: str, path: str) -> tuple[Iterator[bytes], dict[str, Any]]:
        """`GET /containers/{id}/archive`: a tar stream of `path`, and its PathStat."""
        resp = self._send("GET", f"/containers/{_id(container)}/archive", {"path": path})
        try:
            stat = decode_path_stat(resp.getheader("X-Docker-Container-Path-Stat"))
        except APIError as exc:
            resp.close()
            raise APIError(exc.status, f"unable to get resource stat from response: {exc.message}") from None
        return iter_chunks(resp), stat

    def put_archive(
        self,
        container: str,
        path: str,
        data: Body,
        *,
        no_overwrite_dir_non_dir: bool = True,
        copy_uid_gid: bool = False,
    ) -> None:
        """`PUT /containers/{id}/archive`: extract the tar `data` into directory `path`."""
        params = {
            "path": path,
            "noOverwriteDirNonDir": "true" if no_overwrite_dir_non_dir else None,
            "copyUIDGID": "true" if copy_uid_gid else None,
        }
        # Docker's client labels the tar stream text/plain; daemons do not look.
        _read_all(
            self._send(
                "PUT",
                f"/containers/{_id(container)}/archive",
                params,
                data=data,
                headers={"Content-Type": "text/plain"},
            )
        )

    # --- system -------------------------------------------------------------------

    def events(
        self,
        since: str | None = None,
        until: str | None = None,
        filters: Filters | None = None,
    ) -> Iterator[dict[str, Any]]:
        """`GET /events`: the event messages as they arrive (ends at `until`, if given)."""
        params = {"since": since, "until": until, "filters": _filters(filters)}
        return iter_json(iter_chunks(self._send("GET", "/events", params)))

    # --- images -------------------------------------------------------------------

    def images(
        self, all: bool = False, filters: Filters | None = None, digests: bool = False
    ) -> list[dict[str, Any]]:
        params = {"all": all, "filters": _filters(filters), "digests": digests}
        return self._get_json("/images/json", params)

    def inspect_image(self, image: str) -> dict[str, Any]:
        return self._get_json(f"/images/{_name(image)}/json")

    def remove_image(
        self, image: str, force: bool = False, noprune: bool = False
    ) -> list[dict[str, str]]:
        """`DELETE /images/{name}`: a list of `{"Untagged": ...}` / `{"Deleted": ...}`."""
        return self._json("DELETE", f"/images/{_name(image)}", {"force": force, "noprune": noprune})

    def tag(self, image: str, repository: str, tag: str | None = None) -> None:
        self._call("POST", f"/images/{_name(image)}/tag", {"repo": repository, "tag": tag})

    def pull(
        self,
        image: str,
        tag: str | None = None,
        platform: str | None = None,
        auth: str | None = None,
        bootstrap: bool = False,
    ) -> Iterator[dict[str, Any]]:
        """`POST /images/create?fromImage=`: the JSON progress messages as they arrive.
        `bootstrap` (dockyard's own) lets the daemon build an offline base image."""
        headers = {"X-Registry-Auth": auth} if auth else None
        params = {"fromImage": image, "tag": tag, "platform": platform, "bootstrap": bootstrap}
        resp = self._send("POST", "/images/create", params, headers=headers)
        return iter_json(iter_chunks(resp))

    def login(self, username: str, password: str, server: str) -> dict[str, Any]:
        """`POST /auth`: check credentials with the registry."""
        body = {"username": username, "password": password, "serveraddress": server}
        return self._json("POST", "/auth", None, body) or {}

    def search(self, term: str, limit: int | None = None, filters: Filters | None = None,
               auth: str | None = None) -> list[dict[str, Any]]:
        headers = {"X-Registry-Auth": auth} if auth else None
        params = {"term": term, "limit": limit, "filters": _filters(filters)}
        resp = self._send("GET", "/images/search", params, headers=headers)
        return json.loads(_read_all(resp) or b"[]")

    def history(self, image: str) -> list[dict[str, Any]]:
        return self._get_json(f"/images/{_name(image)}/history")

    def prune_images(self, filters: Filters | None = None) -> dict[str, Any]:
        return self._json("POST", "/images/prune", {"filters": _filters(filters)}) or {}

    def import_image(
        self,
        source: Body = None,
        *,
        src_url: str | None = None,
        repository: str | None = None,
        tag: str | None = None,
        message: str | None = None,
        changes: list[str] | None = None,
        platform: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """`POST /images/create?fromSrc=`: a tar in the body (`source`), or a URL to fetch."""
        params: dict[str, Any] = {
            "fromSrc": src_url if src_url else "-",
            "repo": repository,
            "tag": tag,
            "message": message,
            "changes": changes or None,
            "platform": platform,
        }
        headers = {"Content-Type": "application/x-tar"} if source is not None else None
        resp = self._send("POST", "/images/create", params, data=source, headers=headers)
        return iter_json(iter_chunks(resp))

    def get_images(self, names: list[str]) -> Iterator[bytes]:
        """`GET /images/get`: a tar stream of the named images (docker save)."""
        resp = self._send("GET", "/images/get", {"names": names})
        return iter_chunks(resp)

    def load_image(self, data: Body, quiet: bool = False) -> Iterator[dict[str, Any]]:
        """`POST /images/load` with a tar body: the JSON messages (`Loaded image: ...`)."""
        resp = self._send(
            "POST",
            "/images/load",
            {"quiet": quiet},
            data=data,
            headers={"Content-Type": "application/x-tar"},
        )
        return iter_json(iter_chunks(resp))

    # --- networks and volumes (inspect only; their verbs live with their packages) -----

    def inspect_network(self, network: str) -> dict[str, Any]:
        return self._get_json(f"/networks/{_id(network)}")

    def inspect_volume(self, volume: str) -> dict[str, Any]:
        return self._get_json(f"/volumes/{_id(volume)}")

    def networks(self, filters: Filters | None = None) -> list[dict[str, Any]]:
        return self._get_json("/networks", {"filters": _filters(filters)}) or []

    def create_network(self, config: dict[str, Any]) -> dict[str, Any]:
        """`POST /networks/create` with a NetworkCreateRequest (`Name`, `Driver`, ...)."""
        return self._json("POST", "/networks/create", None, config) or {}

    def remove_network(self, network: str) -> None:
        self._call("DELETE", f"/networks/{_id(network)}")

    def connect_network(
        self, network: str, container: str, endpoint: dict[str, Any] | None = None
    ) -> None:
        body = {"Container": container, "EndpointConfig": endpoint or {}}
        self._json("POST", f"/networks/{_id(network)}/connect", None, body)

    def volumes(self, filters: Filters | None = None) -> list[dict[str, Any]]:
        answer = self._get_json("/volumes", {"filters": _filters(filters)}) or {}
        return answer.get("Volumes") or []

    def create_volume(self, config: dict[str, Any]) -> dict[str, Any]:
        """`POST /volumes/create` with `Name`, `Driver`, `DriverOpts`, `Labels`."""
        return self._json("POST", "/volumes/create", None, config) or {}

    def remove_volume(self, volume: str, force: bool = False) -> None:
        self._call("DELETE", f"/volumes/{_id(volume)}", {"force": force})

    def build(self, context: Body, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """`POST /build` with a tar of the context: the JSON progress messages.

        `params` are the query parameters (`t`, `dockerfile`, `buildargs`, `labels`,
        `target`, `cachefrom`, `networkmode`, `pull`, `nocache`, `platform`); the JSON
        valued ones are passed already encoded.
        """
        resp = self._send(
            "POST", "/build", params, data=context, headers={"Content-Type": "application/x-tar"}
        )
        return iter_json(iter_chunks(resp))

    def fsck(self, repair: bool = False, quick: bool = False) -> dict[str, Any]:
        """`POST /dockyard/system/fsck`: the store's consistency (and repairs made)."""
        return self._json("POST", "/dockyard/system/fsck", {"repair": repair, "quick": quick}) or {}

    def base_images(self) -> list[dict[str, Any]]:
        """`GET /dockyard/base-images`: the offline base-image recipes and their state."""
        return self._json("GET", "/dockyard/base-images") or []

    def bootstrap(self, names: list[str], nocache: bool = False) -> Iterator[dict[str, Any]]:
        """`POST /dockyard/base-images/bootstrap`: make offline base images (all if no names)."""
        resp = self._send("POST", "/dockyard/base-images/bootstrap", {"name": names, "nocache": nocache})
        return iter_json(iter_chunks(resp))

    def push(
        self, image: str, tag: str | None = None, auth: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """`POST /images/{name}/push`: the JSON progress messages."""
        headers = {"X-Registry-Auth": auth or "e30="}
        resp = self._send("POST", f"/images/{_name(image)}/push", {"tag": tag}, headers=headers)
        return iter_json(iter_chunks(resp))

    # --- plumbing -----------------------------------------------------------------

    def _url(self, path: str, versioned: bool = True) -> str:
        if versioned:
            return f"/v{self.api_version}{path}"
        return path

    def _get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self._json("GET", path, params)

    def _json(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        body: Any = None,
    ) -> Any:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else None
        resp = self._send(method, path, params, data=data, headers=headers)
        raw = _read_all(resp)
        if not raw.strip():
            return None
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise APIError(resp.status, f"malformed JSON from daemon: {exc}") from None

    def _call(self, method: str, path: str, params: dict[str, Any] | None = None) -> None:
        _read_all(self._send(method, path, params))

    def _send(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        *,
        data: Body = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        """Send one request on a new connection; error statuses raise APIError.

        The caller owns the returned response (and through it the connection).
        """
        url = self._url(path, versioned=path != "/_ping") + _query(params or {})
        all_headers = {"User-Agent": USER_AGENT}
        all_headers.update(headers or {})
        if data is None and method in ("POST", "PUT"):
            all_headers.setdefault("Content-Length", "0")
        conn = open_connection(self.host, self.timeout)
        try:
            conn.request(method, url, body=data, headers=all_headers)  # type: ignore[arg-type]
            resp = conn.getresponse()
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            conn.close()
            raise DaemonUnavailable(self.base_url, str(exc)) from None
        except OSError as exc:
            conn.close()
            if self.host.tls is not None:
                _raise_tls_error(self.base_url, self.host.tls, exc)
            if isinstance(exc, ConnectionResetError):
                raise DaemonUnavailable(self.base_url, str(exc)) from None
            raise
        if resp.status >= 400:
            body = resp.read()
            conn.close()
            raise APIError(resp.status, error_message(body, resp.status))
        return resp

    def _negotiate(self) -> None:
        try:
            resp = self._send("GET", "/_ping")
        except DaemonUnavailable:
            if not (self.autostart and self.host.is_default):
                raise
            from dockyard.client.autostart import start_daemon

            start_daemon(self)
            resp = self._send("GET", "/_ping")
        server = resp.getheader("Api-Version")
        _read_all(resp)
        self._server_version = server
        self._version = _lower_version(API_VERSION, server) if server else API_VERSION

    def _connect_socket(self) -> Any:
        try:
            return connect_socket(self.host, self.timeout)
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            raise DaemonUnavailable(self.base_url, str(exc)) from None


class PendingWait:
    """A `POST /containers/{id}/wait` running in a thread; `result()` gives its body."""

    def __init__(self, client: APIClient, path: str, params: dict[str, Any]):
        import threading

        self.headers_received = threading.Event()
        self._done = threading.Event()
        self._result: dict[str, Any] | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, args=(client, path, params), name="wait", daemon=True
        )
        self._thread.start()

    def result(self, timeout: float | None = None) -> dict[str, Any]:
        """The wait body (`{"StatusCode": n, ...}`); re-raises the request's error."""
        if not self._done.wait(timeout):
            raise TimeoutError("container wait did not finish")
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result

    def raise_early_error(self) -> None:
        """Raise now if the wait already failed (no such container, daemon gone)."""
        if self._done.is_set() and self._error is not None:
            raise self._error

    def _run(self, client: APIClient, path: str, params: dict[str, Any]) -> None:
        try:
            resp = client._send("POST", path, params)
            self.headers_received.set()
            raw = _read_all(resp)
            self._result = json.loads(raw) if raw.strip() else {"StatusCode": 0}
        except BaseException as exc:  # handed to the caller's thread by result()
            self._error = exc
        finally:
            self.headers_received.set()
            self._done.set()


def iter_chunks(resp: Response) -> Iterator[bytes]:
    """The body as it arrives (chunked bodies are de-chunked); closes the response at the end."""
    try:
        while True:
            chunk = resp.read1(_READ_SIZE)
            if not chunk:
                return
            yield chunk
    finally:
        resp.close()


def iter_json(chunks: Iterable[bytes]) -> Iterator[dict[str, Any]]:
    """JSON values from a stream of concatenated (usually newline-separated) documents."""
    decoder = json.JSONDecoder()
    text = ""
    pending = b""
    for chunk in chunks:
        pending += chunk
        try:
            text += pending.decode("utf-8")
            pending = b""
        except UnicodeDecodeError:
            # A multi-byte character split across chunks: wait for the rest of it.
            continue
        pos = 0
        while True:
            while pos < len(text) and text[pos] in " \t\r\n":
                pos += 1
            if pos >= len(text):
                break
            try:
                value, end = decoder.raw_decode(text, pos)
            except ValueError:
                break  # an incomplete document: keep it for the next chunk
            yield value
            pos = end
        text = text[pos:]
    if text.strip():
        raise APIError(500, f"truncated JSON stream from daemon: {text[:80]!r}")


def _read_all(resp: Response) -> bytes:
    try:
        return resp.read()
    finally:
        resp.close()


def _query(params: dict[str, Any]) -> str:
    """Docker's query encoding: booleans as 1 (false ones left out), lists repeated."""
    items: list[tuple[str, str]] = []
    for key, value in params.items():
        if value is None or value is False:
            continue
        if value is True:
            items.append((key, "1"))
        elif isinstance(value, list | tuple):
            items.extend((key, str(v)) for v in value)
        else:
            items.append((key, str(value)))
    return "?" + "&".join(f"{_quote_plus(k)}={_quote_plus(v)}" for k, v in items) if items else ""


def decode_path_stat(header: str | None) -> dict[str, Any]:
    """The base64 JSON of an `X-Docker-Container-Path-Stat` header (name, size, mode,
    mtime, linkTarget; `mode` in Go's os.FileMode bits)."""
    import base64

    try:
        stat = json.loads(base64.b64decode(header or "", validate=False) or b"null")
    except ValueError as exc:
        raise APIError(500, f"unable to decode container path stat header: {exc}") from None
    if not isinstance(stat, dict):
        raise APIError(500, "unable to decode container path stat header: EOF")
    return stat


def _filters(filters: Filters | None) -> str | None:
    # The map form ({"key": {"value": true}}) is what Docker's CLI sends; every daemon
    # version accepts it.
    if not filters:
        return None
    return json.dumps({key: {v: True for v in values} for key, values in filters.items()})


def _id(container: str) -> str:
    return _quote(container, "")


def _name(image: str) -> str:
    # Image names keep their slashes in the path, as Docker's client sends them.
    return _quote(image, "/:@")


# Percent-encoding as urllib.parse does it, without importing urllib.parse (and with it
# ipaddress): a few milliseconds of every command's start-up.
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")


def _quote(text: str, safe: str) -> str:
    allowed = _UNRESERVED | frozenset(safe.encode())
    return "".join(chr(b) if b in allowed else f"%{b:02X}" for b in text.encode("utf-8"))


def _quote_plus(text: str) -> str:
    return _quote(text, " ").replace(" ", "+")


def _lower_version(ours: str, theirs: str) -> str:
    def key(v: str) -> tuple[int, ...]:
        try:
            return tuple(int(p) for p in v.split("."))
        except ValueError:
            return (0,)

    return theirs if key(theirs) < key(ours) else ours


def _raise_tls_error(url: str, tls: TLSOptions, exc: OSError) -> None:
    """Turn a TLS-layer failure (a rejected client certificate, say) into one line.

    A daemon rejecting our certificate may just close the connection after the handshake
    (TLS 1.3 checks it then), which reads as a disconnect without an answer.
    """
    from dockyard.client.tls import TLSError, is_tls_error

    if is_tls_error(exc):
        reason = getattr(exc, "reason", None) or str(exc)
        raise TLSError(f"error during connect: {url}: remote error: tls: {reason}") from None
    if isinstance(exc, ConnectionResetError):
        hint = ("it requires a client certificate (--tlscert and --tlskey, or cert.pem and "
                "key.pem in DOCKER_CERT_PATH)" if not tls.cert else
                f"it did not accept the client certificate {tls.cert}")
        raise TLSError(f"error during connect: {url}: the daemon closed the TLS connection "
                       f"without answering: {hint}") from None

