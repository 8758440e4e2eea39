"""Issue 13: requests to Immich are paced to a bounded rate (a setting), so a large pass leaves it responsive."""

from __future__ import annotations

import threading

from immich_client.http import Pacer
from organizer.immich.run import make_client
from organizer.settings import ImmichSettings


def test_request_starts_are_spaced_across_threads():
    """8 threads asking at once (a clock that stands still): every request gets its own slot, 50 ms apart."""
    pacer = Pacer(20.0, clock=lambda: 0.0, sleep=lambda s: None)
    slots: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(25):
            slot = pacer.wait()
            with lock:
                slots.append(slot)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [round(s, 9) for s in sorted(slots)] == [round(i * 0.05, 9) for i in range(200)]


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def time(self) -> float:
        return self.now


def test_a_burst_waits_for_its_slots_and_an_idle_pacer_lets_the_next_go_at_once():
    clock = _Clock()
    waited: list[float] = []

    def sleep(seconds: float) -> None:
        waited.append(round(seconds, 6))
        clock.now += seconds

    pacer = Pacer(4.0, clock=clock.time, sleep=sleep)
    for _ in range(3):
        pacer.wait()
    assert waited == [0.25, 0.25]  # the first goes at once, the next two 0.25 s apart
    clock.now += 10  # idle for a while: no debt, no catching-up burst either
    pacer.wait()
    pacer.wait()
    assert waited == [0.25, 0.25, 0.25]


def test_no_limit_never_sleeps():
    pacer = Pacer(0, sleep=lambda s: (_ for _ in ()).throw(AssertionError("slept")))
    for _ in range(1000):
        pacer.wait()


def test_the_setting_reaches_the_client():
    env = {"IMMICH_URL": "http://immich:2283", "IMMICH_API_KEY": "k"}
    default = make_client(ImmichSettings.from_env(env))
    assert default.http.pacer.interval == 1 / 100
    off = make_client(ImmichSettings.from_env(env | {"IMMICH_MAX_REQUESTS_PER_SECOND": "0"}))
    assert off.http.pacer.interval == 0
    slow = make_client(ImmichSettings.from_env(env | {"IMMICH_MAX_REQUESTS_PER_SECOND": "5"}))
    assert slow.http.pacer.interval == 0.2


def test_every_request_and_every_retry_takes_a_slot(fake_immich):
    """Through the real HTTP path: the pacer paces each attempt, retries of a failing request too."""
    from fake_immich import Fault

    from immich_client import ImmichClient

    client = ImmichClient(fake_immich.url, fake_immich.api_key, backoff_base=0.001, max_requests_per_second=1e6)
    slots: list[float] = []
    wait = client.http.pacer.wait
    client.http.pacer.wait = lambda: slots.append(wait()) or slots[-1]  # type: ignore[method-assign]
    fake_immich.faults.rules = [Fault("5xx", "/users/me", times=2)]
    client.users.me()
    client.albums.list()
    assert len(slots) == 4 == len(fake_immich.requests_to("/users/me")) + len(fake_immich.requests_to("/albums"))
