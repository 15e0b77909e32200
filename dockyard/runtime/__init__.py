# SPDX-License-Identifier: Apache-2.0
"""A thin wrapper around conmon + runc: create, start, kill, delete, attach sockets, exit files, container logs. Holds no state logic."""
