"""How the ingest subscriber closes a batch: by size, or once its oldest message has waited.

These drive the subscriber's own buffer (what paho's network thread fills); the delivery
itself is covered against real brokers in test_mqtt_roundtrip and test_mqtt_resilience.
"""

from __future__ import annotations

import threading
import time

from telemetry.mqtt import IngestSubscriber, _Received, parse_mqtt_url


def subscriber(*, batch_size: int = 100, batch_wait_s: float = 0.5) -> IngestSubscriber:
    # Never connected: only the buffer and the batching are exercised.
    return IngestSubscriber(
        url=parse_mqtt_url("mqtt://127.0.0.1:1"),
        client_id="batching-test",
        batch_size=batch_size,
        batch_wait_s=batch_wait_s,
    )


def arrive(sub: IngestSubscriber, n: int, *, at: float) -> None:
    with sub._cond:
        for i in range(n):
            sub._buffer.append(_Received("tracker/v1/a/g/telemetry", b"{}", at, i + 1, 1, 0))
        sub._cond.notify_all()


def timed_take(sub: IngestSubscriber) -> tuple[int, float]:
    started = time.monotonic()
    batch = sub._take()
    return len(batch), time.monotonic() - started


def test_messages_that_waited_while_the_last_batch_was_written_go_at_once():
    sub = subscriber(batch_wait_s=0.5)
    arrive(sub, 30, at=time.time() - 0.6)
    n, took = timed_take(sub)
    assert n == 30
    assert took < 0.1


def test_a_fresh_message_waits_for_the_batch_to_fill_for_at_most_the_batch_wait():
    sub = subscriber(batch_wait_s=0.3)
    arrive(sub, 1, at=time.time())
    n, took = timed_take(sub)
    assert n == 1
    assert 0.25 <= took < 0.6


def test_the_wait_counts_from_the_oldest_message_not_from_the_take():
    sub = subscriber(batch_wait_s=0.4)
    arrive(sub, 5, at=time.time() - 0.3)
    n, took = timed_take(sub)
    assert n == 5
    assert took < 0.25


def test_a_full_batch_goes_at_once_and_leaves_the_rest_for_the_next():
    sub = subscriber(batch_size=10, batch_wait_s=5.0)
    arrive(sub, 25, at=time.time())
    n, took = timed_take(sub)
    assert (n, len(sub._buffer)) == (10, 15)
    assert took < 0.1


def test_a_batch_that_fills_while_waiting_goes_when_it_is_full():
    sub = subscriber(batch_size=10, batch_wait_s=5.0)
    arrive(sub, 4, at=time.time())
    later = threading.Timer(0.2, lambda: arrive(sub, 6, at=time.time()))
    later.start()
    n, took = timed_take(sub)
    later.join()
    assert n == 10
    assert took < 2.0


def test_a_stop_ends_the_wait_with_what_is_in_hand():
    sub = subscriber(batch_wait_s=5.0)
    arrive(sub, 3, at=time.time())
    threading.Timer(0.2, sub.stop).start()
    n, took = timed_take(sub)
    assert n == 3
    assert took < 2.0
