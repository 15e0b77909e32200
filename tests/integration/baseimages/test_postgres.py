# SPDX-License-Identifier: Apache-2.0
"""The postgres stand-in (PostgreSQL 15 from Debian): first start initialises PGDATA
(superuser, database, /docker-entrypoint-initdb.d), other containers on a user network
log in by name with the password, a new container on the same volume keeps the data and
skips the initialisation, stop is quick, and a start without POSTGRES_PASSWORD fails."""

from __future__ import annotations

import gzip
import time
import uuid

import pytest

pytestmark = pytest.mark.requires_root

USER, PASSWORD, DATABASE = "app", "pa's \"pw", "app-db"
PGDATA = "/var/lib/postgresql/data"


def _unique(kind: str) -> str:
    return f"test-postgres-{kind}-{uuid.uuid4().hex[:10]}"


def _wait_ready(daemon, container: str, timeout: float = 90) -> None:
    """Until the real server accepts TCP connections (the initialisation's temporary
    server listens on the unix socket only)."""
    deadline = time.monotonic() + timeout
    while True:
        ready = daemon.cli("exec", container, "pg_isready", "-h", "127.0.0.1", "-U", USER, "-d", DATABASE,
                           check=False)
        if ready.returncode == 0:
            return
        running = daemon.cli("inspect", "-f", "{{.State.Running}}", container, check=False)
        if running.stdout.strip() == b"false" or time.monotonic() > deadline:
            logs = daemon.cli("logs", container, check=False)
            raise AssertionError(f"{container} is not ready:\n{logs.stdout.decode(errors='replace')}"
                                 f"{logs.stderr.decode(errors='replace')}")
        time.sleep(0.5)


def _init_dir(tmp_path):
    init = tmp_path / "initdb"
    init.mkdir()
    (init / "01-schema.sql").write_text(
        "CREATE TABLE t (id int PRIMARY KEY, v text);\n"
        "INSERT INTO t VALUES (1, 'from-sql');\n")
    (init / "02-more.sql.gz").write_bytes(gzip.compress(b"INSERT INTO t VALUES (2, 'from-gz');\n"))
    (init / "03-script.sh").write_text(
        "echo \"init script ran for $POSTGRES_DB\"\n"
        "docker_process_sql <<<\"INSERT INTO t VALUES (3, 'from-sh');\"\n")
    # the entrypoint reads them as the `postgres` user
    init.chmod(0o755)
    for f in init.iterdir():
        f.chmod(0o644)
    return init


def _psql(daemon, image: str, net: str, host: str, password: str, sql: str, check: bool = True):
    return daemon.cli("run", "--rm", "--network", net, "-e", f"PGPASSWORD={password}", image,
                      "psql", "-h", host, "-U", USER, "-d", DATABASE, "-At", "-c", sql, check=check)


def test_init_then_data_survives_a_new_container(daemon, base_image, tmp_path):
    image = base_image("postgres")
    net, volume = _unique("net"), _unique("vol")
    first, second = _unique("first"), _unique("second")
    init = _init_dir(tmp_path)
    daemon.cli("network", "create", net)
    try:
        daemon.cli("run", "-d", "--name", first, "--network", net,
                   "-v", f"{volume}:{PGDATA}", "-v", f"{init}:/docker-entrypoint-initdb.d:ro",
                   "-e", f"POSTGRES_PASSWORD={PASSWORD}", "-e", f"POSTGRES_USER={USER}",
                   "-e", f"POSTGRES_DB={DATABASE}", image)
        _wait_ready(daemon, first)
        logs = daemon.cli("logs", first)
        assert f"init script ran for {DATABASE}".encode() in logs.stdout + logs.stderr
        # The server runs as `postgres` and is PID 1; psql works through exec.
        assert daemon.cli("exec", first, "cat", "/proc/1/comm").stdout.strip() == b"postgres"
        assert daemon.cli("exec", first, "sh", "-c", "stat -c %U /proc/1").stdout.strip() == b"postgres"
        superuser = daemon.cli("exec", first, "psql", "-U", USER, "-d", DATABASE, "-At", "-c",
                               "SELECT rolsuper FROM pg_roles WHERE rolname = current_user").stdout
        assert superuser.strip() == b"t"

        # From another container on the network, by the server's name, with the password.
        rows = _psql(daemon, image, net, first, PASSWORD, "SELECT v FROM t ORDER BY id").stdout
        assert rows.split() == [b"from-sql", b"from-gz", b"from-sh"]
        encoding = _psql(daemon, image, net, first, PASSWORD,
                         "SELECT pg_encoding_to_char(encoding) FROM pg_database "
                         f"WHERE datname = '{DATABASE}'").stdout
        assert encoding.strip() == b"UTF8"
        wrong = _psql(daemon, image, net, first, "wrong", "SELECT 1", check=False)
        assert wrong.returncode != 0 and b"password authentication failed" in wrong.stderr

        # Stop is quick and clean (SIGINT: fast shutdown).
        started = time.monotonic()
        daemon.cli("stop", first)
        assert time.monotonic() - started < 5
        assert daemon.cli("inspect", "-f", "{{.State.ExitCode}}", first).stdout.strip() == b"0"
        daemon.cli("rm", first)

        # A new container on the same volume, without POSTGRES_PASSWORD: no init, same data.
        daemon.cli("run", "-d", "--name", second, "--network", net, "-v", f"{volume}:{PGDATA}", image)
        _wait_ready(daemon, second)
        logs = daemon.cli("logs", second)
        assert b"init script ran" not in logs.stdout + logs.stderr
        count = daemon.cli("exec", second, "psql", "-U", USER, "-d", DATABASE, "-At", "-c",
                           "SELECT count(*) FROM t").stdout
        assert count.strip() == b"3"
        assert _psql(daemon, image, net, second, PASSWORD, "SELECT 1").stdout.strip() == b"1"
    finally:
        for container in (first, second):
            daemon.cli("rm", "-f", "-v", container, check=False)
        daemon.cli("volume", "rm", volume, check=False)
        daemon.cli("network", "rm", net, check=False)


def test_missing_password_is_refused(daemon, base_image):
    image = base_image("postgres")
    name = _unique("nopw")
    try:
        result = daemon.cli("run", "--rm", "--name", name, image, check=False, timeout=60)
        assert result.returncode != 0
        output = (result.stdout + result.stderr).decode(errors="replace")
        assert "Database is uninitialized and superuser password is not specified" in output
        assert "POSTGRES_PASSWORD" in output and "POSTGRES_HOST_AUTH_METHOD=trust" in output
    finally:
        daemon.cli("rm", "-f", "-v", name, check=False)
