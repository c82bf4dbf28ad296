"""An in-process event bus: alerts as they fire, data refreshes and job progress, for
the server's live streams (``/v1/stream``, ``/v1/ws``).

Domains publish through ``publish(kind, **data)`` (a hook that knows nothing of HTTP);
the streams read with ``BUS.subscribe``. The bus keeps the last ``capacity`` events so
a client that reconnects with the id of the last event it saw gets what it missed.

An event id is ``"<boot>-<seq>"``: ``boot`` changes with every process, so an id from
before a restart is recognised as such (the client gets the whole buffer and a ``gap``
event) instead of silently matching an unrelated event. Events are per process: with
several server workers each streams its own, and a monitor run in another process (the
CLI) reaches the streams only through the alerts it stores (``/v1/alerts``).

Publishing never raises: a failing listener is logged and skipped, so an alert is
stored whether or not anyone streams it.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
from collections import deque
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger(__name__)

#: event kinds the server publishes (``gap`` is the bus's own: some events were missed)
KINDS = ("alert", "data", "job", "gap")


@dataclass(frozen=True)
class Event:
    seq: int
    kind: str
    data: dict[str, Any]
    time: str
    boot: str = field(default="", repr=False)

    @property
    def id(self) -> str:
        return f"{self.boot}-{self.seq}"

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "time": self.time, "data": self.data}


class EventBus:
    """Thread-safe publish; asyncio subscribe with replay from a bounded buffer."""

    def __init__(self, capacity: int = 1000) -> None:
        if capacity < 1:
            raise ValueError("an event bus needs room for at least one event")
        self.capacity = capacity
        self.boot = secrets.token_hex(4)
        self._lock = threading.Lock()
        self._buffer: deque[Event] = deque(maxlen=capacity)
        self._seq = 0
        self._listeners: list[Callable[[Event], None]] = []

    def publish(self, kind: str, data: dict[str, Any]) -> Event:
        """Record an event and hand it to every listener (from any thread)."""
        with self._lock:
            self._seq += 1
            event = Event(self._seq, kind, data, datetime.now(UTC).isoformat(), self.boot)
            self._buffer.append(event)
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(event)
            except Exception:  # a listener's bug must not lose the publisher's work
                log.exception("event listener failed on %s", event.id)
        return event

    def listen(self, listener: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``listener`` with every new event; returns the function that stops it."""
        with self._lock:
            self._listeners.append(listener)

        def stop() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return stop

    def after(self, last_id: str | None) -> list[Event]:
        """The buffered events after ``last_id`` (a ``gap`` event first when some of
        them are gone, or the id is from another process); none for ``None``."""
        if last_id is None:
            return []
        boot, _, seq_text = last_id.strip().rpartition("-")
        with self._lock:
            buffered = list(self._buffer)
        seq = int(seq_text) if seq_text.isdigit() and boot == self.boot else 0
        newer = [e for e in buffered if e.seq > seq]
        oldest = buffered[0].seq if buffered else self._seq + 1
        if boot != self.boot or seq + 1 < oldest:
            reason = (
                "the server restarted since that event"
                if boot != self.boot
                else f"the replay buffer keeps the last {self.capacity} events"
            )
            gap = Event(0, "gap", {"after": last_id, "reason": reason}, _now(), self.boot)
            return [gap, *newer]
        return newer

    def subscribe(
        self, last_id: str | None = None, *, heartbeat_s: float | None = None
    ) -> AsyncGenerator[Event | None, None]:
        """Events after ``last_id`` (see ``after``), then every new one as it is
        published; ``None`` after ``heartbeat_s`` seconds without one (a keep-alive).
        A subscriber too slow to keep ``capacity`` events queued gets a ``gap``.

        Call it in the event loop that iterates it: the subscription starts now (an
        event published after this call is delivered even before the first ``anext``)
        and ends when the iterator is closed."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Event] = asyncio.Queue()
        overflow = False

        def put(event: Event) -> None:
            nonlocal overflow
            if queue.qsize() >= self.capacity:
                overflow = True
                return
            queue.put_nowait(event)

        def push(event: Event) -> None:
            loop.call_soon_threadsafe(put, event)

        with self._lock:  # atomically: every event after ``start`` reaches the queue
            start = self._seq
            self._listeners.append(push)
        backlog = self.after(last_id)

        async def events() -> AsyncGenerator[Event | None, None]:
            nonlocal overflow
            try:
                last = start if last_id is None else 0
                for event in backlog:
                    last = max(last, event.seq)
                    yield event
                while True:
                    try:
                        event = await asyncio.wait_for(queue.get(), heartbeat_s)
                    except TimeoutError:
                        yield None
                        continue
                    if overflow:
                        overflow = False
                        yield Event(
                            0, "gap", {"reason": "this client fell behind"}, _now(), self.boot
                        )
                    if event.seq > last:
                        last = event.seq
                        yield event
            finally:
                with self._lock:
                    if push in self._listeners:
                        self._listeners.remove(push)

        return events()


def _now() -> str:
    return datetime.now(UTC).isoformat()


#: the process's bus (the server streams it)
BUS = EventBus()


def publish(kind: str, **data: Any) -> Event | None:
    """The hook domains call: publish on the process's bus; never raises."""
    try:
        return BUS.publish(kind, data)
    except Exception:
        log.exception("publishing a %s event failed", kind)
        return None


__all__ = ["BUS", "KINDS", "Event", "EventBus", "publish"]
