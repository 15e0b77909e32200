# SPDX-License-Identifier: Apache-2.0
"""Unpacked layers by chain ID, container rw layers, overlay mounts, tar apply with whiteouts."""
