# SPDX-License-Identifier: Apache-2.0
"""Helpers of the tests of database images (mysql, postgres): files for
/docker-entrypoint-initdb.d that fill a table, and server containers sharing one data
volume, the first start initialising it and later ones finding the data there."""

from __future__ import annotations

import gzip
from collections.abc import Sequence
from pathlib import Path

from tests.support.containers import assert_quick_stop, remove, unique, wait_command
from tests.support.daemon import DaemonHandle

# What the files of write_initdb put in table `t`, in id order.
INITDB_ROWS = [b"from-sql", b"from-gz", b"from-sh"]


def write_initdb(directory: Path, create_table: str, database_variable: str) -> Path:
    """A /docker-entrypoint-initdb.d: a plain and a gzipped SQL file and a sourced script,
    each adding a row of INITDB_ROWS to table `t` (made by the SQL statement
    `create_table`, columns id and v). The script prints `init script ran for
    $<database_variable>` and uses the entrypoint's docker_process_sql."""
    directory.mkdir()
    (directory / "01-schema.sql").write_text(f"{create_table}\nINSERT INTO t VALUES (1, 'from-sql');\n")
    (directory / "02-more.sql.gz").write_bytes(gzip.compress(b"INSERT INTO t VALUES (2, 'from-gz');\n"))
    (directory / "03-script.sh").write_text(
        f"echo \"init script ran for ${database_variable}\"\n"
        "docker_process_sql <<<\"INSERT INTO t VALUES (3, 'from-sh');\"\n")
    # the entrypoint reads them as the server's user, not root
    directory.chmod(0o755)
    for path in directory.iterdir():
        path.chmod(0o644)
    return directory


class Database:
    """Server containers of a database `image` on a user network of their own, each with
    the same named volume at `datadir`. The network, the volume and the containers are
    removed when the `with` block ends."""

    def __init__(self, daemon: DaemonHandle, image: str, datadir: str, ready: Sequence[str], prefix: str):
        self.daemon = daemon
        self.image = image
        self.datadir = datadir
        self.ready = tuple(ready)  # a command that succeeds in a container once its server is up
        self.prefix = prefix
        self.network = unique(f"{prefix}-net")
        self.volume = unique(f"{prefix}-vol")
        self.containers: list[str] = []

    def __enter__(self) -> Database:
        self.daemon.cli("network", "create", self.network)
        return self

    def __exit__(self, *exc_info) -> None:
        remove(self.daemon, containers=self.containers, volumes=[self.volume], networks=[self.network])

    def start(self, *options: str) -> str:
        """A new server container (with `options`: -e, -v ...), once `ready` succeeds in it."""
        name = unique(f"{self.prefix}-server")
        self.containers.append(name)
        self.daemon.cli("run", "-d", "--name", name, "--network", self.network,
                        "-v", f"{self.volume}:{self.datadir}", *options, self.image)
        wait_command(self.daemon, name, *self.ready)
        return name

    def stop(self, name: str) -> None:
        """Stops the server `name`, which must be quick and clean (the stop signal reaches
        the server), and removes its container; the data stays in the volume."""
        assert_quick_stop(self.daemon, name, 5)
        self.daemon.cli("rm", name)

    def client(self, *command: str, options: Sequence[str] = (), check: bool = True):
        """`command` (the image's client: mysql, psql) in another container on the network."""
        return self.daemon.cli("run", "--rm", "--network", self.network, *options, self.image, *command,
                               check=check)
