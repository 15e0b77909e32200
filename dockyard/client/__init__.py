# SPDX-License-Identifier: Apache-2.0
"""Engine API client over a unix socket or TCP, standard library only: requests, streams, hijacked attach connections, version negotiation."""
