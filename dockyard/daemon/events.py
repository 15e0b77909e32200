# SPDX-License-Identifier: Apache-2.0
"""The events bus: every state change publishes a Docker-shaped event message to the
subscribers of `GET /events`, and a bounded history serves `since`."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Any

Event = dict[str, Any]


class Events:
    def __init__(self, history: int = 1024):
        self._history: deque[Event] = deque(maxlen=history)
        self._subscribers: set[asyncio.Queue[Event]] = set()

    def publish(self, type_: str, action: str, actor_id: str, attributes: dict[str, str] | None = None) -> None:
        now = time.time_ns()
        event: Event = {
            "Type": type_,
            "Action": action,
            "Actor": {"ID": actor_id, "Attributes": dict(attributes or {})},
            "scope": "local",
            "time": now // 1_000_000_000,
            "timeNano": now,
        }
        if type_ == "container":
            # The pre-1.22 fields docker CLIs still read.
            event["status"] = action
            event["id"] = actor_id
            event["from"] = (attributes or {}).get("image", "")
        self._history.append(event)
        for queue in self._subscribers:
            queue.put_nowait(event)

    def since(self, since_ns: int) -> list[Event]:
        return [e for e in self._history if e["timeNano"] >= since_ns]

    def subscribe(self) -> asyncio.Queue[Event]:
        queue: asyncio.Queue[Event] = asyncio.Queue()
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Event]) -> None:
        self._subscribers.discard(queue)
