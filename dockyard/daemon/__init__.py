# SPDX-License-Identifier: Apache-2.0
"""The engine: container verbs and their state machine, locks, restore on boot, events, info."""
