# SPDX-License-Identifier: Apache-2.0
"""A small HTTP/1.1 client connection, enough for the Engine API: requests with a bytes,
file or iterable body (the latter two sent chunked), responses with a Content-Length,
chunked or read-to-close body, read whole or as it arrives.

It exists because `http.client` pulls in the `email` package and costs the CLI ~20 ms of
imports on every command, a large part of `dockyard ps`'s run time.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket
    from collections.abc import Callable, Iterable
    from typing import Any

_MAX_HEAD = 1 << 20
_READ = 65536


class RemoteDisconnected(ConnectionResetError):
    """The daemon closed the connection before answering."""


class Connection:
    """One connection, one request at a time; connects on the first request."""

    def __init__(self, connect: Callable[[], socket.socket], host_header: str = "docker"):
        self._connect = connect
        self._host_header = host_header
        self.sock: socket.socket | None = None
        self._method = "GET"

    def request(self, method: str, url: str, body: Any = None, headers: dict[str, str] | None = None) -> None:
        if self.sock is None:
            self.sock = self._connect()
        self._method = method
        head = {"Host": self._host_header}
        head.update(headers or {})
        chunked = False
        if isinstance(body, (bytes, bytearray, memoryview)):
            head["Content-Length"] = str(len(body))
        elif body is not None and "Content-Length" not in head:
            head["Transfer-Encoding"] = "chunked"
            chunked = True
        lines = [f"{method} {url} HTTP/1.1"] + [f"{k}: {v}" for k, v in head.items()]
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if isinstance(body, (bytes, bytearray, memoryview)):
            self.sock.sendall(data + bytes(body))
            return
        self.sock.sendall(data)
        if body is None:
            return
        for chunk in _chunks_of(body):
            if chunk:
                self.sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
        if chunked:
            self.sock.sendall(b"0\r\n\r\n")

    def getresponse(self) -> Response:
        assert self.sock is not None, "request() first"
        return Response(self.sock, head=self._method == "HEAD")

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


class Response:
    """The status, headers and body of one answer."""

    def __init__(self, sock: socket.socket, head: bool = False):
        self._sock = sock
        bodyless = head
        buffer = b""
        while b"\r\n\r\n" not in buffer:
            chunk = sock.recv(_READ)
            if not chunk:
                raise RemoteDisconnected("the daemon closed the connection without answering")
            buffer += chunk
            if len(buffer) > _MAX_HEAD:
                raise ConnectionError("response headers too large")
        head, self._buffer = buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        try:
            self.status = int(parts[1])
        except (IndexError, ValueError):
            raise ConnectionError(f"malformed response status line: {lines[0]!r}") from None
        self.reason = parts[2] if len(parts) > 2 else ""
        self.headers: dict[str, str] = {}
        for line in lines[1:]:
            key, sep, value = line.partition(":")
            if sep:
                self.headers[key.strip().lower()] = value.strip()
        self._chunked = "chunked" in self.headers.get("transfer-encoding", "").lower()
        length = self.headers.get("content-length")
        self._remaining: int | None = int(length) if length is not None and not self._chunked else None
        if bodyless or self.status in (204, 304) or (100 <= self.status < 200):
            # No body follows, whatever Content-Length says (HEAD describes a GET's body).
            self._remaining = 0
            self._chunked = False
        self._chunk_left = 0
        self._done = self._remaining == 0

    def getheader(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    def read(self) -> bytes:
        parts = []
        while True:
            chunk = self.read1(_READ)
            if not chunk:
                return b"".join(parts)
            parts.append(chunk)

    def read1(self, size: int = _READ) -> bytes:
        """Some of the body (b"" at its end), without waiting for more than one arrival."""
        if self._done:
            return b""
        if self._chunked:
            return self._read_chunked(size)
        if self._remaining is not None:
            data = self._take(min(size, self._remaining))
            self._remaining -= len(data)
            if self._remaining <= 0 or not data:
                self._done = True
            return data
        data = self._take(size)
        if not data:
            self._done = True
        return data

    def close(self) -> None:
        self._done = True
        self._sock.close()

    def _read_chunked(self, size: int) -> bytes:
        if self._chunk_left == 0:
            line = self._line()
            try:
                self._chunk_left = int(line.split(b";", 1)[0].strip() or b"0", 16)
            except ValueError:
                raise ConnectionError(f"malformed chunk size {line[:20]!r}") from None
            if self._chunk_left == 0:
                while self._line():  # trailers, then the blank line
                    pass
                self._done = True
                return b""
        data = self._take(min(size, self._chunk_left))
        if not data:
            raise ConnectionError("connection closed inside a chunk")
        self._chunk_left -= len(data)
        if self._chunk_left == 0:
            self._line()
        return data

    def _line(self) -> bytes:
        while b"\r\n" not in self._buffer:
            more = self._sock.recv(_READ)
            if not more:
                raise ConnectionError("connection closed inside a chunked body")
            self._buffer += more
        line, self._buffer = self._buffer.split(b"\r\n", 1)
        return line

    def _take(self, size: int) -> bytes:
        if not self._buffer:
            return self._sock.recv(size)
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data


def _chunks_of(body: Any) -> Iterable[bytes]:
    if hasattr(body, "read"):
        while True:
            chunk = body.read(_READ)
            if not chunk:
                return
            yield chunk
    else:
        yield from body
