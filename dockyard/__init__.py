# SPDX-License-Identifier: Apache-2.0
"""dockyard: a Docker-compatible container engine."""

__version__ = "0.1.0"
API_VERSION = "1.45"
MIN_API_VERSION = "1.24"
DEFAULT_SOCKET = "unix:///run/dockyard.sock"
