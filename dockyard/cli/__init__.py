# SPDX-License-Identifier: Apache-2.0
"""Docker's verbs and flags: flags → Engine API bodies, tables, --format, progress. Imports only client/ and the standard library."""
