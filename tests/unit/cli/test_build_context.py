# SPDX-License-Identifier: Apache-2.0
"""The CLI's build context walk (cli/build.py `_LocalContext`): the incremental manifest
and the whole tar describe the same members, and a file that vanishes mid-send ends the
tar short with a one-line reason instead of a thread traceback."""

import io
import os
import tarfile

from dockyard.builder import contextsync
from dockyard.cli.build import _LocalContext


def _context(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "Dockerfile").write_text("FROM busybox\n")
    (tmp_path / "sub" / "a").write_text("a\n")
    (tmp_path / "skip.log").write_text("x\n")
    (tmp_path / ".dockerignore").write_text("*.log\n")
    os.symlink("sub/a", tmp_path / "link")
    return _LocalContext(str(tmp_path), "Dockerfile", None, b"")


def test_manifest_and_full_tar_list_the_same_members(tmp_path):
    local = _context(tmp_path)
    manifest, paths = local.manifest()
    listed = [(info.name, info.type, info.mode, info.size, info.linkname)
              for info, _ in contextsync.decode(manifest)]
    with local.full_tar() as pipe, tarfile.open(fileobj=io.BytesIO(pipe.read())) as tf:
        sent = [(m.name, m.type, m.mode, m.size, m.linkname) for m in tf.getmembers()]
    assert listed == sent
    assert sorted(paths) == [".dockerignore", "Dockerfile", "sub/a"]


def test_a_file_gone_before_it_is_sent_is_reported(tmp_path):
    local = _context(tmp_path)
    manifest, paths = local.manifest()
    os.unlink(tmp_path / "sub" / "a")
    with local.partial_tar(manifest, paths, ["sub/a"]) as pipe:
        pipe.read()
    assert local.error == f"error checking context: {tmp_path / 'sub' / 'a'}: No such file or directory"
