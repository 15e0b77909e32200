# SPDX-License-Identifier: Apache-2.0
"""Typed errors a user can cause, each carrying the HTTP status Docker uses for it.

The server maps them to `{"message": ...}` bodies in one place; the CLI prints
`Error response from daemon: <message>`. Anything else escaping a handler is our bug (500).
"""


class DockyardError(Exception):
    """Base class: `status` is the HTTP status the API answers with."""

    status = 500

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidParameter(DockyardError):
    status = 400


class Forbidden(DockyardError):
    status = 403


class NotFound(DockyardError):
    status = 404


class Conflict(DockyardError):
    status = 409


class NotModified(DockyardError):
    status = 304


class Unavailable(DockyardError):
    status = 503


def stream_error(error: BaseException) -> dict:
    """The JSON-stream message (pull, build, bootstrap) ending a stream with `error`; one
    that is not a DockyardError is our bug and says so (the caller logs it in full)."""
    if isinstance(error, DockyardError):
        message = error.message
    else:
        message = f"internal error: {type(error).__name__}: {error}"
    return {"errorDetail": {"message": message}, "error": message}


def json_input(text: str | bytes, kind: type, what: str) -> object:
    """Client-sent JSON that must decode to `kind` (dict or list); InvalidParameter
    `<what>: <why>` otherwise."""
    import json

    try:
        value = json.loads(text)
    except ValueError as e:
        raise InvalidParameter(f"{what}: {e}") from None
    if not isinstance(value, kind):
        raise InvalidParameter(f"{what}: expected a JSON {'object' if kind is dict else 'list'}")
    return value


def check_filter_keys(filters: dict, allowed: tuple[str, ...], message: str = "Invalid filter") -> None:
    """Refuse a filter key the endpoint does not know (Docker's `<message> 'key'`): an
    ignored filter would widen what a prune removes."""
    for key in filters:
        if key not in allowed:
            raise InvalidParameter(f"{message} '{key}'")
