# SPDX-License-Identifier: Apache-2.0
"""The HTTP edge: aiohttp app, listeners, middleware (API version, errors → status), one router module per API tag, stream framing."""
