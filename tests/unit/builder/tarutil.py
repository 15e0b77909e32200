# SPDX-License-Identifier: Apache-2.0
"""Small tar archives made in memory, for build contexts in tests."""

import io
import tarfile


def tar_bytes(files: dict[str, bytes], mode: str = "w") -> bytes:
    """A tar of regular files {name: data}; `mode` "w:gz" etc. compresses it."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode, format=tarfile.PAX_FORMAT) as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()
