# SPDX-License-Identifier: Apache-2.0
"""SQLite (WAL) schema and migrations: images, tags, layers, containers."""
