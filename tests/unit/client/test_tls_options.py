# SPDX-License-Identifier: Apache-2.0
"""TLS settings of the client (flags and DOCKER_TLS_VERIFY/DOCKER_CERT_PATH) and the
daemon's listener checks (plain TCP refused unless TLS is switched off explicitly)."""

from __future__ import annotations

import pytest

from dockyard.client.hosts import resolve_tls
from dockyard.config import DaemonConfig
from dockyard.server.security import ListenerError, prepare


def test_no_tls_without_flags_or_environment():
    assert resolve_tls(environ={}) is None


def test_environment_turns_on_verification_with_cert_path_files(tmp_path):
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (tmp_path / name).write_text("x")
    options = resolve_tls(environ={"DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(tmp_path)})
    assert options is not None and options.verify
    assert (options.cacert, options.cert, options.key) == (
        str(tmp_path / "ca.pem"), str(tmp_path / "cert.pem"), str(tmp_path / "key.pem"))


def test_missing_default_files_are_left_out_but_flags_win(tmp_path):
    options = resolve_tls(tls=True, cacert="/my/ca.pem", environ={"DOCKER_CERT_PATH": str(tmp_path)})
    assert options is not None and not options.verify
    assert (options.cacert, options.cert, options.key) == ("/my/ca.pem", None, None)


def test_tlsverify_false_overrides_environment():
    assert resolve_tls(verify=False, environ={"DOCKER_TLS_VERIFY": "1"}) is None


@pytest.mark.parametrize(("tls", "verify", "message"), [
    (None, None, "without TLS"),
    (True, None, "without --tlsverify"),
])
def test_daemon_refuses_tcp_without_client_certificates(tls, verify, message):
    config = DaemonConfig(hosts=["tcp://127.0.0.1:2375"], tls=tls, tls_verify=verify)
    with pytest.raises(ListenerError, match=message):
        prepare(config)


def test_daemon_allows_plain_tcp_when_forced_with_a_warning():
    config = DaemonConfig(hosts=["tcp://127.0.0.1:2375"], tls=False)
    listeners = prepare(config)
    assert listeners.ssl_context is None
    assert listeners.warnings and "without TLS" in listeners.warnings[0]


def test_daemon_tlsverify_needs_readable_files(tmp_path):
    config = DaemonConfig(hosts=["tcp://127.0.0.1:2376"], tls_verify=True,
                          tls_cacert=str(tmp_path / "ca.pem"), tls_cert="c", tls_key="k")
    with pytest.raises(ListenerError, match="could not read --tlscacert"):
        prepare(config)


def test_tls_without_a_port_means_2376():
    from dockyard.client.hosts import TLSOptions, parse_host

    plain = parse_host("tcp://daemon.example")
    assert plain.port == 2375
    secure = parse_host("tcp://daemon.example")
    secure.use_tls(TLSOptions(verify=True, cacert=None, cert=None, key=None))
    assert secure.port == 2376
    explicit = parse_host("tcp://daemon.example:4000")
    explicit.use_tls(TLSOptions(verify=True, cacert=None, cert=None, key=None))
    assert explicit.port == 4000
