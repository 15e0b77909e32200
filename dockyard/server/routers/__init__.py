# SPDX-License-Identifier: Apache-2.0
"""One router module per Engine API tag; each handler parses, calls the daemon, serialises."""
