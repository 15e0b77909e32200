# SPDX-License-Identifier: Apache-2.0
"""Offline base images built without any registry: scratch, busybox (Debian's busybox-static), hello-world."""
