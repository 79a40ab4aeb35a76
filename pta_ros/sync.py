"""Approximate-time synchronisation of whatever sensors are live (pure Python, no rclpy).

Why not ``message_filters.ApproximateTimeSynchronizer``: it waits for a message on *every* input,
so one sensor that stops stalls the output, and it has no callback for unmatched messages
(ros2/ros2#1313). Here each sensor has its own small buffer and a match uses any subset of them.

Policy (all times are the node's clock, i.e. sim time under ``use_sim_time``):

- **Admission** (:meth:`Synchronizer.add`): a stamp is rejected, with a reason, when it is zero
  (``zero_stamp``), more than ``future_tolerance_s`` ahead of the clock (``future``), older than
  ``max_age_s`` (``stale``), equal to the sensor's last accepted stamp (``duplicate``) or older than
  it (``out_of_order``: late messages are dropped, not inserted, so outputs stay in stamp order).
  While the clock reads zero (sim time before the first ``/clock``) everything is ``no_clock``.
- **Clock jumping backwards** (a bag loop under sim time) clears every buffer and the output
  history, and is counted in :attr:`Synchronizer.resets`.
- **Matching** (:meth:`Synchronizer.match`): candidate pivots are the buffered stamps newer than
  the last committed output. A pivot's members are, per sensor, the entry closest to it inside
  ``[pivot - slop_s, pivot]``, so a match spans at most ``slop_s``. A pivot is *ready* once every
  live sensor has delivered a stamp ≥ ``pivot - slop_s`` (it either belongs to the match or has
  moved past it), or once ``max_wait_s`` has passed since the pivot stamp: a stopped sensor
  delays a frame by at most ``max_wait_s`` and drops out of the live set after ``max_age_s``.
  **Start-up**: for ``max_age_s`` after the first accepted message (at start and after a reset),
  sensors that have not delivered anything yet are waited for too (again ≤ ``max_wait_s`` per
  frame), so the first outputs do not use whichever sensor happened to arrive first; after that
  window a sensor that never spoke delays nothing.
  Among ready pivots the one with the most members wins, ties to the newest.
- **Committing** an output advances the pivot floor (outputs are strictly increasing in stamp)
  and evicts entries that no later pivot can use; unused ones are counted as dropped.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

NS = 1_000_000_000


@dataclass(frozen=True)
class SyncPolicy:
    """Tunable sync parameters (seconds)."""

    slop_s: float = 0.05  # the largest stamp spread inside one match
    max_age_s: float = 1.0  # entries older than this (vs the clock) are never used
    max_wait_s: float = 0.1  # how long a pivot waits for a live sensor that has not delivered
    future_tolerance_s: float = 0.5  # stamps further ahead of the clock are rejected
    buffer_size: int = 16  # entries kept per sensor; the oldest is dropped when full

    def __post_init__(self) -> None:
        if self.slop_s < 0 or self.max_age_s <= 0 or self.max_wait_s < 0 or self.future_tolerance_s < 0:
            raise ValueError(f"invalid sync policy {self}")
        if self.buffer_size < 1:
            raise ValueError("buffer_size must be ≥ 1")


@dataclass
class Entry:
    stamp_ns: int
    item: Any
    arrival_ns: int  # clock reading when it was added
    used: bool = False


@dataclass(frozen=True)
class Match:
    """One synchronised set: ``entries[sensor]`` for each member; ``stamp_ns`` is the newest stamp."""

    stamp_ns: int
    entries: Mapping[str, Entry]

    @property
    def sensors(self) -> tuple[str, ...]:
        return tuple(self.entries)

    @property
    def span_ns(self) -> int:
        stamps = [e.stamp_ns for e in self.entries.values()]
        return max(stamps) - min(stamps)


@dataclass
class _SensorState:
    buffer: deque[Entry] = field(default_factory=deque)
    last_stamp_ns: int | None = None  # last accepted stamp (kept after eviction)
    rejected: Counter[str] = field(default_factory=Counter)
    dropped: Counter[str] = field(default_factory=Counter)
    accepted: int = 0


class Synchronizer:
    """Per-sensor buffers and the matching policy above. Thread-safe (one internal lock).

    Args:
        sensors: names, in the order matches list them.
        policy: initial :class:`SyncPolicy` (replace at run time with :meth:`set_policy`).
        clock: returns the current time in integer nanoseconds (the node's ROS clock).
    """

    def __init__(self, sensors: Iterable[str], policy: SyncPolicy, clock: Callable[[], int]) -> None:
        self._order = tuple(sensors)
        self._state = {name: _SensorState() for name in self._order}
        self._policy = policy
        self._clock = clock
        self._lock = threading.Lock()
        self._last_now: int | None = None
        self._floor_ns: int | None = None  # stamp of the last committed match
        self._first_accept_ns: int | None = None  # clock at the first accepted message (start-up window)
        self.resets = 0

    # -- configuration ------------------------------------------------------------------------

    @property
    def sensors(self) -> tuple[str, ...]:
        return self._order

    @property
    def policy(self) -> SyncPolicy:
        return self._policy

    def set_policy(self, policy: SyncPolicy) -> None:
        with self._lock:
            self._policy = policy
            for state in self._state.values():
                while len(state.buffer) > policy.buffer_size:
                    self._drop(state, state.buffer.popleft(), "overflow")

    # -- admission ----------------------------------------------------------------------------

    def check(self, sensor: str, stamp_ns: int) -> str | None:
        """The rejection reason ``add`` would give this stamp now, or None (a cheap pre-filter;
        ``add`` decides again under the lock)."""
        with self._lock:
            return self._admit(self._state[sensor], stamp_ns, self._now())

    def add(self, sensor: str, stamp_ns: int, item: Any) -> str | None:
        """Buffer ``item`` stamped ``stamp_ns``; return None if accepted, else the rejection reason
        (also counted in :meth:`rejected`)."""
        with self._lock:
            state = self._state[sensor]
            now = self._now()
            reason = self._admit(state, stamp_ns, now)
            if reason is not None:
                state.rejected[reason] += 1
                return reason
            state.buffer.append(Entry(stamp_ns, item, now))
            state.last_stamp_ns = stamp_ns
            if self._first_accept_ns is None:
                self._first_accept_ns = now
            state.accepted += 1
            if len(state.buffer) > self._policy.buffer_size:
                self._drop(state, state.buffer.popleft(), "overflow")
            return None

    def count_rejection(self, sensor: str, reason: str) -> None:
        """Count a rejection decided outside the synchroniser (e.g. a malformed message)."""
        with self._lock:
            self._state[sensor].rejected[reason] += 1

    # -- matching -----------------------------------------------------------------------------

    def live(self, sensors: Iterable[str] | None = None) -> tuple[str, ...]:
        """Sensors (of ``sensors``, default all) whose last accepted stamp is younger than ``max_age_s``."""
        with self._lock:
            now = self._now()
            self._expire(now)
            return self._live(sensors, now)

    def match(self, sensors: Iterable[str] | None = None) -> Match | None:
        """The best ready match among ``sensors`` (default all) newer than the last commit, or None."""
        with self._lock:
            now = self._now()
            self._expire(now)
            live = self._live(sensors, now)
            if not live:
                return None
            slop = round(self._policy.slop_s * NS)
            wait = round(self._policy.max_wait_s * NS)
            newest = [self._state[s].last_stamp_ns for s in live]
            unheard = self._unheard_at_start(sensors, now)
            pivots = sorted(
                {e.stamp_ns for s in live for e in self._state[s].buffer if self._above_floor(e.stamp_ns)},
                reverse=True,
            )
            best: Match | None = None
            for pivot in pivots:
                ready = now - pivot >= wait or (
                    not unheard and all(stamp >= pivot - slop for stamp in newest)
                )
                if not ready:
                    continue
                entries = {}
                for sensor in live:
                    entry = _closest_at_or_before(self._state[sensor].buffer, pivot, pivot - slop)
                    if entry is not None:
                        entries[sensor] = entry
                if best is None or len(entries) > len(best.entries):
                    best = Match(pivot, entries)
                if len(entries) == len(live):
                    break  # pivots descend: this is the newest complete one
            return best

    def commit(self, match: Match) -> None:
        """Record ``match`` as output: later matches must be newer; unusable entries are evicted."""
        with self._lock:
            for entry in match.entries.values():
                entry.used = True
            self._floor_ns = match.stamp_ns if self._floor_ns is None else max(self._floor_ns, match.stamp_ns)
            # A later pivot p > floor only uses stamps ≥ p - slop > floor - slop.
            limit = self._floor_ns - round(self._policy.slop_s * NS)
            for state in self._state.values():
                while state.buffer and state.buffer[0].stamp_ns <= limit:
                    self._drop(state, state.buffer.popleft(), "superseded")

    def reset(self) -> None:
        """Forget every buffered entry and the output history (counters are kept)."""
        with self._lock:
            self._reset()

    # -- introspection ------------------------------------------------------------------------

    def rejected(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {s: dict(st.rejected) for s, st in self._state.items()}

    def dropped(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {s: dict(st.dropped) for s, st in self._state.items()}

    def accepted(self) -> dict[str, int]:
        with self._lock:
            return {s: st.accepted for s, st in self._state.items()}

    def newest_stamp(self, sensor: str) -> int | None:
        """Last accepted stamp of ``sensor`` (None if none since start or the last reset)."""
        with self._lock:
            return self._state[sensor].last_stamp_ns

    # -- internals (lock held) ----------------------------------------------------------------

    def _now(self) -> int:
        now = int(self._clock())
        if self._last_now is not None and now < self._last_now:
            self.resets += 1
            self._reset()
        self._last_now = now
        return now

    def _reset(self) -> None:
        for state in self._state.values():
            state.buffer.clear()
            state.last_stamp_ns = None
        self._floor_ns = None
        self._first_accept_ns = None

    def _admit(self, state: _SensorState, stamp_ns: int, now: int) -> str | None:
        policy = self._policy
        if stamp_ns <= 0:
            return "zero_stamp"
        if now <= 0:
            return "no_clock"
        if stamp_ns > now + round(policy.future_tolerance_s * NS):
            return "future"
        if stamp_ns < now - round(policy.max_age_s * NS):
            return "stale"
        if state.last_stamp_ns is not None:
            if stamp_ns == state.last_stamp_ns:
                return "duplicate"
            if stamp_ns < state.last_stamp_ns:
                return "out_of_order"
        return None

    def _expire(self, now: int) -> None:
        oldest = now - round(self._policy.max_age_s * NS)
        for state in self._state.values():
            while state.buffer and state.buffer[0].stamp_ns < oldest:
                self._drop(state, state.buffer.popleft(), "expired")

    def _drop(self, state: _SensorState, entry: Entry, reason: str) -> None:
        if not entry.used:
            state.dropped[reason] += 1

    def _live(self, sensors: Iterable[str] | None, now: int) -> tuple[str, ...]:
        # Judged by the last accepted stamp, not the buffer: commits evict used entries of slow sensors.
        wanted = self._order if sensors is None else set(sensors)
        oldest = now - round(self._policy.max_age_s * NS)
        return tuple(
            s
            for s in self._order
            if s in wanted
            and self._state[s].last_stamp_ns is not None
            and self._state[s].last_stamp_ns >= oldest
        )

    def _unheard_at_start(self, sensors: Iterable[str] | None, now: int) -> bool:
        """Inside the start-up window, has some wanted sensor not delivered anything yet?"""
        start = self._first_accept_ns
        if start is None or now - start >= round(self._policy.max_age_s * NS):
            return False
        wanted = self._order if sensors is None else set(sensors)
        return any(self._state[s].last_stamp_ns is None for s in self._order if s in wanted)

    def _above_floor(self, stamp_ns: int) -> bool:
        return self._floor_ns is None or stamp_ns > self._floor_ns


def _closest_at_or_before(buffer: deque[Entry], pivot: int, lowest: int) -> Entry | None:
    """The newest entry with ``lowest ≤ stamp ≤ pivot`` (buffers are in stamp order)."""
    for entry in reversed(buffer):
        if entry.stamp_ns <= pivot:
            return entry if entry.stamp_ns >= lowest else None
    return None
