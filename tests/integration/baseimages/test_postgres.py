# SPDX-License-Identifier: Apache-2.0
"""The postgres stand-in (PostgreSQL 15 from Debian): first start initialises PGDATA
(superuser, database, /docker-entrypoint-initdb.d), other containers on a user network
log in by name with the password, a new container on the same volume keeps the data and
skips the initialisation, stop is quick, and a start without POSTGRES_PASSWORD fails."""

from __future__ import annotations

import pytest

from tests.support import containers
from tests.support.databases import INITDB_ROWS, Database, write_initdb

pytestmark = pytest.mark.requires_root

USER, PASSWORD, DATABASE = "app", "pa's \"pw", "app-db"
# The real server accepts TCP connections; the temporary one of the initialisation
# listens on the unix socket only.
READY = ("pg_isready", "-h", "127.0.0.1", "-U", USER, "-d", DATABASE)


def _psql(db: Database, host: str, password: str, sql: str, check: bool = True):
    """psql in another container on the network, logging in to `host` with `password`."""
    return db.client("psql", "-h", host, "-U", USER, "-d", DATABASE, "-At", "-c", sql,
                     options=("-e", f"PGPASSWORD={password}"), check=check)


def test_init_then_data_survives_a_new_container(daemon, base_image, tmp_path):
    init = write_initdb(tmp_path / "initdb", "CREATE TABLE t (id int PRIMARY KEY, v text);", "POSTGRES_DB")
    with Database(daemon, base_image("postgres"), "/var/lib/postgresql/data", READY, "test-postgres") as db:
        first = db.start("-v", f"{init}:/docker-entrypoint-initdb.d:ro", "-e", f"POSTGRES_PASSWORD={PASSWORD}",
                         "-e", f"POSTGRES_USER={USER}", "-e", f"POSTGRES_DB={DATABASE}")
        assert f"init script ran for {DATABASE}" in containers.logs(daemon, first)
        # The server runs as `postgres` and is PID 1; psql works through exec.
        assert containers.process_one(daemon, first) == ("postgres", "postgres")
        superuser = daemon.cli("exec", first, "psql", "-U", USER, "-d", DATABASE, "-At", "-c",
                               "SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        assert containers.output(superuser) == "t"

        # From another container on the network, by the server's name, with the password.
        rows = _psql(db, first, PASSWORD, "SELECT v FROM t ORDER BY id").stdout
        assert rows.split() == INITDB_ROWS
        encoding = _psql(db, first, PASSWORD,
                         f"SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = '{DATABASE}'")
        assert containers.output(encoding) == "UTF8"
        wrong = _psql(db, first, "wrong", "SELECT 1", check=False)
        assert wrong.returncode != 0 and b"password authentication failed" in wrong.stderr

        # Stop is quick and clean (SIGINT: fast shutdown).
        db.stop(first)

        # A new container on the same volume, without POSTGRES_PASSWORD: no init, same data.
        second = db.start()
        assert "init script ran" not in containers.logs(daemon, second)
        count = daemon.cli("exec", second, "psql", "-U", USER, "-d", DATABASE, "-At", "-c",
                           "SELECT count(*) FROM t")
        assert containers.output(count) == "3"
        assert containers.output(_psql(db, second, PASSWORD, "SELECT 1")) == "1"


def test_missing_password_is_refused(daemon, base_image):
    image = base_image("postgres")
    name = containers.unique("test-postgres-nopw")
    with containers.removing(daemon, containers=[name]):
        text = containers.run_fails(daemon, "--rm", "--name", name, image)
        assert "Database is uninitialized and superuser password is not specified" in text
        assert "POSTGRES_PASSWORD" in text and "POSTGRES_HOST_AUTH_METHOD=trust" in text
