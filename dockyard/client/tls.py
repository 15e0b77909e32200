# SPDX-License-Identifier: Apache-2.0
"""TLS for TCP daemons, with the standard library's `ssl`.

Imported only when a connection to a `tcp://` host with TLS settings is made, so commands
over the unix socket never pay for loading `ssl`.
"""

from __future__ import annotations

import os
import socket
import ssl

from dockyard.client.errors import ClientError
from dockyard.client.hosts import Host, TLSOptions


class TLSError(ClientError):
    """The TLS settings are unusable or the handshake with the daemon failed."""


def wrap(sock: socket.socket, host: Host) -> ssl.SSLSocket:
    """`sock`, connected to `host`, after a TLS handshake with the daemon."""
    assert host.tls is not None
    context = client_context(host.tls)
    try:
        return context.wrap_socket(sock, server_hostname=host.hostname)
    except ssl.SSLCertVerificationError as e:
        raise TLSError(f"error during connect: {host.url}: tls: {e.verify_message or e}") from None
    except ssl.SSLError as e:
        raise TLSError(f"error during connect: {host.url}: tls: {e}") from None


def client_context(options: TLSOptions) -> ssl.SSLContext:
    """An SSL context for `options`: the CA to trust and the certificate to present."""
    for flag, path in (("--tlscacert", options.cacert), ("--tlscert", options.cert),
                       ("--tlskey", options.key)):
        if path and not os.path.isfile(path):
            raise TLSError(f"could not read {flag} {path}: no such file")
    if options.verify:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=options.cacert)
    else:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if options.cert or options.key:
        if not (options.cert and options.key):
            raise TLSError("--tlscert and --tlskey must be given together")
        try:
            context.load_cert_chain(options.cert, options.key)
        except (ssl.SSLError, OSError) as e:
            raise TLSError(f"could not load the client certificate {options.cert}: {e}") from None
    return context


def is_tls_error(exc: BaseException) -> bool:
    """True for errors of the TLS layer (e.g. the daemon rejecting our certificate)."""
    return isinstance(exc, ssl.SSLError)
