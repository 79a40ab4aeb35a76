"""The sync policy, driven by an explicit clock (no ROS, no spinning)."""

from __future__ import annotations

import threading

import pytest

from pta_ros.sync import NS, Synchronizer, SyncPolicy

MS = 1_000_000
T0 = 1_000 * NS


class Clock:
    def __init__(self, ns: int = T0) -> None:
        self.ns = ns

    def __call__(self) -> int:
        return self.ns

    def advance(self, ms: float) -> None:
        self.ns += round(ms * MS)


def make(sensors=("a", "b", "c"), **policy) -> tuple[Synchronizer, Clock]:
    clock = Clock()
    defaults = dict(slop_s=0.02, max_age_s=0.5, max_wait_s=0.1, future_tolerance_s=0.2, buffer_size=8)
    defaults.update(policy)
    return Synchronizer(sensors, SyncPolicy(**defaults), clock), clock


def emit(sync: Synchronizer):
    match = sync.match()
    if match is not None:
        sync.commit(match)
    return match


def test_all_sensors_matched_within_slop_and_emitted_once():
    sync, clock = make()
    for i, name in enumerate("abc"):
        assert sync.add(name, clock.ns - i * 5 * MS, f"{name}0") is None
    match = emit(sync)
    assert match.sensors == ("a", "b", "c")
    assert match.stamp_ns == clock.ns and match.span_ns == 10 * MS
    assert {s: e.item for s, e in match.entries.items()} == {"a": "a0", "b": "b0", "c": "c0"}
    assert sync.match() is None  # nothing newer than the committed frame


def test_waits_for_a_live_sensor_until_it_delivers():
    sync, clock = make()
    for name in "abc":
        sync.add(name, clock.ns, name)
    emit(sync)
    clock.advance(100)
    sync.add("a", clock.ns, "a1")
    sync.add("b", clock.ns, "b1")
    assert sync.match() is None  # c is live and has not delivered this frame yet
    clock.advance(3)
    sync.add("c", clock.ns - 3 * MS, "c1")
    match = emit(sync)
    assert match.sensors == ("a", "b", "c") and match.entries["c"].item == "c1"


def test_a_stopped_sensor_delays_by_max_wait_then_drops_out():
    sync, clock = make(max_wait_s=0.05, max_age_s=0.3)
    for name in "abc":
        sync.add(name, clock.ns, name)
    emit(sync)
    # c stops. The next frame of a, b waits max_wait for c, then goes out without it.
    clock.advance(100)
    frame = clock.ns
    sync.add("a", frame, "a1")
    sync.add("b", frame, "b1")
    clock.advance(49)
    assert sync.match() is None
    clock.advance(1)
    match = emit(sync)
    assert match.sensors == ("a", "b") and match.stamp_ns == frame
    # Once c is older than max_age it is no longer live: frames go out at once.
    clock.advance(300)
    assert sync.live() == ()  # a, b (100 ms after c) are 350 ms old, c 450 ms
    sync.add("a", clock.ns, "a2")
    sync.add("b", clock.ns, "b2")
    assert sync.live() == ("a", "b")
    assert emit(sync).sensors == ("a", "b")


def test_sensor_that_comes_back_rejoins():
    sync, clock = make(max_age_s=0.2)
    sync.add("a", clock.ns, "a0")
    clock.advance(100)  # start-up: b and c, never heard, are awaited for max_wait
    assert emit(sync).sensors == ("a",)
    clock.advance(100)
    sync.add("a", clock.ns, "a1")
    sync.add("b", clock.ns - 2 * MS, "b1")
    assert emit(sync).sensors == ("a", "b")


def test_slop_bounds_the_spread():
    sync, clock = make(sensors=("a", "b"), slop_s=0.02, max_wait_s=0.0)
    sync.add("b", clock.ns - 30 * MS, "b")
    sync.add("a", clock.ns, "a")
    match = emit(sync)
    # b is 30 ms older than a: outside the slop, so the newest frame is a alone ...
    assert match.sensors == ("a",)
    # ... while with a wider slop they match.
    sync2, clock2 = make(sensors=("a", "b"), slop_s=0.04)
    sync2.add("b", clock2.ns - 30 * MS, "b")
    sync2.add("a", clock2.ns, "a")
    assert emit(sync2).sensors == ("a", "b")


def test_most_complete_ready_frame_wins_then_newest():
    sync, clock = make(sensors=("cam", "slow"), slop_s=0.01, max_wait_s=0.2)
    # cam at 30 Hz, slow at 10 Hz; slow's frame matches the cam frame 66 ms ago.
    t = clock.ns
    sync.add("slow", t - 66 * MS, "s")
    for k, dt in enumerate((66, 33, 0)):
        sync.add("cam", t - dt * MS, f"c{k}")
    match = emit(sync)
    assert match.sensors == ("cam", "slow") and match.entries["cam"].item == "c0"
    # The newer frames lack slow, which is live but has not delivered them: wait (≤ max_wait).
    assert sync.match() is None
    clock.advance(200)
    assert emit(sync).entries["cam"].item == "c2"  # after max_wait the newest frame goes out alone
    assert sync.dropped()["cam"] == {"superseded": 1}  # c1 was never used


@pytest.mark.parametrize(
    ("offset_ms", "reason"),
    [(0, None), (150, None), (300, "future"), (-600, "stale"), (None, "zero_stamp")],
)
def test_admission_reasons(offset_ms, reason):
    sync, clock = make()
    stamp = 0 if offset_ms is None else clock.ns + offset_ms * MS
    assert sync.add("a", stamp, "x") == reason
    assert sync.rejected()["a"] == ({} if reason is None else {reason: 1})


def test_duplicate_and_out_of_order_are_rejected_and_counted():
    sync, clock = make()
    assert sync.add("a", clock.ns - 10 * MS, "first") is None
    assert sync.add("a", clock.ns - 10 * MS, "again") == "duplicate"
    assert sync.add("a", clock.ns - 20 * MS, "late") == "out_of_order"
    assert sync.check("a", clock.ns - 10 * MS) == "duplicate"
    assert sync.rejected()["a"] == {"duplicate": 1, "out_of_order": 1}
    clock.advance(100)  # start-up wait for b and c
    assert emit(sync).entries["a"].item == "first"


def test_no_clock_under_sim_time_before_the_first_clock_message():
    clock = Clock(0)
    sync = Synchronizer(["a"], SyncPolicy(), clock)
    assert sync.add("a", 5 * NS, "x") == "no_clock"


def test_clock_jumping_backwards_resets_buffers():
    sync, clock = make()
    sync.add("a", clock.ns, "old")
    sync.add("b", clock.ns, "old")
    emit(sync)
    sync.add("a", clock.ns + 10 * MS, "pending")
    clock.ns = T0 - 60 * NS  # a bag loop under sim time: the clock restarts
    assert sync.match() is None and sync.resets == 1
    assert sync.newest_stamp("a") is None
    # Stamps of the restarted bag are accepted (they would be out_of_order without the reset).
    assert sync.add("a", clock.ns, "new") is None
    assert sync.match() is None  # start-up again: the other sensors are awaited for max_wait
    clock.advance(100)
    assert emit(sync).entries["a"].item == "new"


def test_first_frames_wait_for_sensors_not_heard_yet_only_at_start_up():
    sync, clock = make(max_wait_s=0.1, max_age_s=0.5)
    # The first message alone does not make a frame: b and c may be a few ms behind.
    sync.add("a", clock.ns, "a0")
    clock.advance(5)
    assert sync.match() is None
    sync.add("b", clock.ns - 5 * MS, "b0")
    sync.add("c", clock.ns - 4 * MS, "c0")
    assert emit(sync).sensors == ("a", "b", "c")
    # A sensor that never speaks delays the first frames by at most max_wait ...
    sync2, clock2 = make(max_wait_s=0.1, max_age_s=0.5)
    sync2.add("a", clock2.ns, "a0")
    sync2.add("b", clock2.ns, "b0")
    clock2.advance(99)
    assert sync2.match() is None
    clock2.advance(1)
    assert emit(sync2).sensors == ("a", "b")
    # ... and nothing once the start-up window (max_age after the first message) is over.
    clock2.advance(400)
    sync2.add("a", clock2.ns, "a1")
    sync2.add("b", clock2.ns, "b1")
    assert emit(sync2).sensors == ("a", "b")


def test_expired_and_overflow_drops_are_counted():
    sync, clock = make(sensors=("a",), buffer_size=2, max_age_s=0.5)
    for k in range(4):
        sync.add("a", clock.ns + k * MS, k)
    assert sync.dropped()["a"] == {"overflow": 2}
    clock.advance(600)
    assert sync.match() is None
    assert sync.dropped()["a"] == {"overflow": 2, "expired": 2}


def test_set_policy_applies_new_bounds():
    sync, clock = make(sensors=("a",), buffer_size=8)
    for k in range(6):
        sync.add("a", clock.ns + k * MS, k)
    sync.set_policy(SyncPolicy(buffer_size=3, max_age_s=0.5, future_tolerance_s=0.2))
    assert sync.dropped()["a"] == {"overflow": 3}
    with pytest.raises(ValueError):
        SyncPolicy(slop_s=-1)


def test_match_restricted_to_a_subset():
    sync, clock = make()
    sync.add("a", clock.ns - 5 * MS, "a")
    sync.add("b", clock.ns, "b")
    sync.add("c", clock.ns - 1 * MS, "c")
    match = sync.match(["a", "c"])
    assert match.sensors == ("a", "c") and match.stamp_ns == clock.ns - 1 * MS


def test_concurrent_adds_are_consistent():
    sync, clock = make(sensors=("a", "b"), buffer_size=1000, future_tolerance_s=100.0)
    base = clock.ns

    def feed(name):
        for k in range(500):
            sync.add(name, base + (k + 1) * MS, k)

    threads = [threading.Thread(target=feed, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sync.accepted() == {"a": 500, "b": 500}
