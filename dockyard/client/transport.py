# SPDX-License-Identifier: Apache-2.0
"""Connections to the daemon over a unix socket or TCP, and hijacked sockets.

Ordinary requests go through `wire.Connection`. Attach needs the raw socket left behind by
an HTTP `101 Switching Protocols` answer with no buffered bytes lost, so `hijack` writes
the request and reads the status and headers itself.
"""

from __future__ import annotations

import _socket
import json

from dockyard.client.errors import APIError
from dockyard.client.hosts import Host
from dockyard.client.wire import Connection

TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket


def open_connection(host: Host, timeout: float | None = None) -> Connection:
    """An unconnected connection to `host` (it connects on the first request)."""
    return Connection(lambda: connect_socket(host, timeout))


def connect_socket(host: Host, timeout: float | None = None) -> socket.socket:
    """A connected stream socket to `host`; raises OSError if nothing listens."""
    if host.scheme == "unix":
        # The C module's socket does all a unix stream needs; the `socket` module (with
        # selectors, array, enum wrappers) costs every command a few milliseconds.
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
        sock.settimeout(timeout)
        try:
            sock.connect(host.path)
        except BaseException:
            sock.close()
            raise
        return sock
    import socket

    sock = socket.create_connection((host.hostname, host.port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if host.tls is None:
        return sock
    from dockyard.client.tls import wrap  # imports ssl: only on this path

    try:
        return wrap(sock, host)
    except BaseException:
        sock.close()
        raise


class HijackedSocket:
    """The raw, bidirectional stream left after an upgraded (attach/exec) request.

    `initial` holds bytes that arrived together with the response headers; `recv`
    returns them first so that none of the container's output is lost.
    """

    def __init__(self, sock: socket.socket, initial: bytes = b""):
        self.sock = sock
        self._pending = initial

    def recv(self, size: int = 65536) -> bytes:
        if self._pending:
            data, self._pending = self._pending[:size], self._pending[size:]
            return data
        return self.sock.recv(size)

    def sendall(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close_write(self) -> None:
        """Half-close: tells the daemon stdin is finished while output keeps flowing.

        Not over TLS: Python's SSL sockets have no half-close (`shutdown` drops the TLS
        layer), so the stream stays open until the container ends it.
        """
        if hasattr(self.sock, "unwrap"):
            return
        try:
            self.sock.shutdown(_socket.SHUT_WR)
        except OSError:
            pass

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> HijackedSocket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def hijack(
    sock: socket.socket,
    path: str,
    *,
    method: str = "POST",
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    host_header: str = "docker",
) -> HijackedSocket:
    """Send an upgrade request on `sock` and return the raw stream after the answer.

    Daemons answer `101 Switching Protocols`; old ones answer `200 OK` and then stream
    raw, which works the same. Any other status raises APIError with the daemon's message.
    """
    lines = [
        f"{method} {path} HTTP/1.1",
        f"Host: {host_header}",
        "Connection: Upgrade",
        "Upgrade: tcp",
    ]
    all_headers = {"Content-Type": "text/plain"}
    if body:
        all_headers["Content-Type"] = "application/json"
    all_headers.update(headers or {})
    all_headers["Content-Length"] = str(len(body))
    lines.extend(f"{key}: {value}" for key, value in all_headers.items())
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)

    buffer = b""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise APIError(500, "connection closed before the daemon answered the attach request")
        buffer += chunk
        if len(buffer) > 1 << 20:
            raise APIError(500, "attach response headers too large")
    head, rest = buffer.split(b"\r\n\r\n", 1)
    status, response_headers = _parse_head(head)
    if status in (101, 200):
        return HijackedSocket(sock, rest)
    length = int(response_headers.get("content-length", "0") or 0)
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    sock.close()
    raise APIError(status, error_message(rest[:length] if length else rest, status))


def error_message(body: bytes, status: int) -> str:
    """The text of an error answer: `{"message": ...}` if it is JSON, else the body itself."""
    text = body.decode("utf-8", "replace").strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            pass
        else:
            if isinstance(data, dict) and isinstance(data.get("message"), str):
                return data["message"]
    return text or f"HTTP status {status}"


def _parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    try:
        status = int(parts[1])
    except (IndexError, ValueError):
        raise APIError(500, f"malformed response from daemon: {lines[0]!r}") from None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        key, sep, value = line.partition(":")
        if sep:
            headers[key.strip().lower()] = value.strip()
    return status, headers
