# SPDX-License-Identifier: Apache-2.0
"""The mysql stand-in (MariaDB from Debian): first start initialises the data directory
(root password, database, user, /docker-entrypoint-initdb.d), clients on a user network
reach it by name, a new container on the same volume keeps the data and skips the
initialisation, stop is quick, and a start without any root password setting fails."""

from __future__ import annotations

import pytest

from tests.support import containers
from tests.support.databases import INITDB_ROWS, Database, write_initdb

pytestmark = pytest.mark.requires_root

ROOT_PASSWORD = "r00t'pw"
USER, PASSWORD, DATABASE = "app", "app pw", "app_db"
# The real server answers on TCP; the temporary one of the initialisation has no
# networking, so this never succeeds before the initialisation is over.
READY = ("mysqladmin", "--protocol=tcp", "-h", "127.0.0.1", "ping")


def test_init_then_data_survives_a_new_container(daemon, base_image, tmp_path):
    init = write_initdb(tmp_path / "initdb", "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20));",
                        "MYSQL_DATABASE")
    with Database(daemon, base_image("mysql"), "/var/lib/mysql", READY, "test-mysql") as db:
        first = db.start("-v", f"{init}:/docker-entrypoint-initdb.d:ro",
                         "-e", f"MYSQL_ROOT_PASSWORD={ROOT_PASSWORD}", "-e", f"MYSQL_DATABASE={DATABASE}",
                         "-e", f"MYSQL_USER={USER}", "-e", f"MYSQL_PASSWORD={PASSWORD}")
        assert f"init script ran for {DATABASE}" in containers.logs(daemon, first)
        # The server runs as `mysql` and is PID 1.
        comm, user = containers.process_one(daemon, first)
        assert comm in ("mysqld", "mariadbd") and user == "mysql"

        # The user, from another container on the network, by the server's name.
        rows = db.client("mysql", "-h", first, "-u", USER, f"-p{PASSWORD}", DATABASE, "-N",
                         "-e", "SELECT v FROM t ORDER BY id").stdout
        assert rows.split() == INITDB_ROWS
        # root may log in remotely; the user sees only its database.
        who = db.client("mysql", "-h", first, "-uroot", f"-p{ROOT_PASSWORD}", "-N",
                        "-e", "SELECT CURRENT_USER()")
        assert containers.output(who) == "root@%"
        dbs = db.client("mysql", "-h", first, "-u", USER, f"-p{PASSWORD}", "-N",
                        "-e", "SHOW DATABASES").stdout.split()
        assert DATABASE.encode() in dbs and b"mysql" not in dbs
        wrong = db.client("mysql", "-h", first, "-u", USER, "-pwrong", "-e", "SELECT 1", check=False)
        assert wrong.returncode != 0 and b"Access denied" in wrong.stderr

        # Stop is quick and clean (SIGTERM reaches the server).
        db.stop(first)

        # A new container on the same volume, without any password setting: no init.
        second = db.start()
        assert "init script ran" not in containers.logs(daemon, second)
        count = daemon.cli("exec", second, "mysql", "-u", USER, f"-p{PASSWORD}", DATABASE, "-N",
                           "-e", "SELECT COUNT(*) FROM t")
        assert containers.output(count) == "3"


def test_missing_root_password_is_refused(daemon, base_image):
    image = base_image("mysql")
    name = containers.unique("test-mysql-nopw")
    with containers.removing(daemon, containers=[name]):
        text = containers.run_fails(daemon, "--rm", "--name", name, "-e", f"MYSQL_DATABASE={DATABASE}",
                                    image)
        assert "Database is uninitialized and password option is not specified" in text
        for option in ("MYSQL_ROOT_PASSWORD", "MYSQL_ALLOW_EMPTY_PASSWORD", "MYSQL_RANDOM_ROOT_PASSWORD"):
            assert option in text
