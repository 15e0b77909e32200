# SPDX-License-Identifier: Apache-2.0
"""Blobs by digest (blobs/sha256/<hex>), verified on write."""
