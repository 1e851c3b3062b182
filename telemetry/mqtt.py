"""paho-mqtt plumbing: URL parsing, the client factory, and the ingest subscriber loop.

The subscriber is an interface in the house-style sense: callbacks only move messages
between paho and `telemetry.ingest.ingest_batch`; no business rule lives here.

Delivery guarantees (FINDINGS.md #1, #2, #6):
* MQTT 5 with ``clean_start=False`` AND a Session Expiry Interval, under a stable client id,
  so the broker keeps queueing while the ingest is down;
* QoS 1 with ``manual_ack=True``: a PUBACK is sent only after the batch holding the message
  is committed. A crash before that means the broker redelivers; ingest is idempotent.
* After a reconnect the broker redelivers whatever was unacknowledged, so messages received
  on an earlier connection are never acknowledged on the new one (their packet ids may by
  then name other messages); their redelivered copies are.

TLS (``mqtts://``): TLS 1.2 or later, the broker's certificate checked against MQTT_CA_FILE
(the system's bundle when unset) and its host name verified; MQTT_CLIENT_CERT_FILE and
MQTT_CLIENT_KEY_FILE add a client certificate for a broker that authenticates by certificate.
`mqtt_tls_context` is the one place that reads and checks them: the ingest calls it before
it starts and the deploy check calls it too, so both refuse a bad file with the same line.
"""

from __future__ import annotations

import gc
import logging
import signal
import ssl
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as paho
from django.conf import settings
from django.db import (
    DatabaseError,
    InterfaceError,
    OperationalError,
    close_old_connections,
    connections,
)
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from telemetry.ingest import (
    WARM_DEVICES_MAX,
    BatchResult,
    InboundMessage,
    ingest_batch,
    utc_from_timestamp,
    warm_caches,
)
from telemetry.metrics import IngestTotals
from telemetry.topics import subscription_filters

log = logging.getLogger("telemetry.mqtt")

# How long the broker keeps the ingest's session (and queues for it) while it is away.
SESSION_EXPIRY_S = 7 * 24 * 3600
DEFAULT_BATCH_SIZE = 5000
DEFAULT_BATCH_WAIT_S = 0.2


class MqttUrlError(ValueError):
    pass


class MqttTlsError(ValueError):
    """A TLS file setting that cannot be used; the message is one line naming the variable."""


@dataclass(frozen=True)
class MqttUrl:
    host: str
    port: int
    username: str | None
    password: str | None
    tls: bool

    def __str__(self) -> str:  # never print the password
        user = f"{self.username}@" if self.username else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{self.host}:{self.port}"


def parse_mqtt_url(url: str) -> MqttUrl:
    """``mqtt://user:pass@host:1883`` or ``mqtts://host:8883`` (TLS: see `mqtt_tls_context`)."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
        raise MqttUrlError(f"MQTT_URL {url!r}: the scheme must be mqtt:// or mqtts://")
    if not parts.hostname:
        raise MqttUrlError(f"MQTT_URL {url!r} names no host")
    tls = parts.scheme in ("mqtts", "ssl")
    try:
        port = parts.port or (8883 if tls else 1883)
    except ValueError as exc:
        raise MqttUrlError(f"MQTT_URL {url!r}: {exc}") from None
    return MqttUrl(
        host=parts.hostname,
        port=port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        tls=tls,
    )


def tls_context(*, ca_file: str = "", cert_file: str = "", key_file: str = "") -> ssl.SSLContext:
    """A client TLS context: TLS 1.2+, the broker's certificate and host name verified.

    ``ca_file`` empty means the system's CA bundle. Reads the files now, so a missing or
    unparsable one fails here, not at the first connection; raises `MqttTlsError` naming
    the setting (MQTT_CA_FILE, MQTT_CLIENT_CERT_FILE or MQTT_CLIENT_KEY_FILE).
    """
    # create_default_context: CERT_REQUIRED and check_hostname on.
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if ca_file:
        try:
            context.load_verify_locations(cafile=ca_file)
        except OSError as exc:  # ssl.SSLError included: a file that is not a certificate
            raise MqttTlsError(
                f"MQTT_CA_FILE={ca_file}: {_file_problem(exc, 'a PEM CA certificate')}"
            ) from None
    if bool(cert_file) != bool(key_file):
        raise MqttTlsError(
            "MQTT_CLIENT_CERT_FILE and MQTT_CLIENT_KEY_FILE go together: set both or neither"
        )
    if cert_file:
        for name, path in (
            ("MQTT_CLIENT_CERT_FILE", cert_file),
            ("MQTT_CLIENT_KEY_FILE", key_file),
        ):
            try:
                with open(path, "rb"):
                    pass
            except OSError as exc:
                raise MqttTlsError(f"{name}={path}: {_file_problem(exc, '')}") from None
        try:
            context.load_cert_chain(cert_file, key_file)
        except OSError as exc:
            raise MqttTlsError(
                f"MQTT_CLIENT_CERT_FILE={cert_file} with MQTT_CLIENT_KEY_FILE={key_file}: "
                f"{_file_problem(exc, 'a PEM certificate and its matching key')}"
            ) from None
    return context


def _file_problem(exc: OSError, expected: str) -> str:
    if isinstance(exc, ssl.SSLError):
        return f"not {expected} ({exc.reason or exc})"
    return exc.strerror or str(exc)


def mqtt_tls_context(url: MqttUrl) -> ssl.SSLContext | None:
    """The TLS context for ``url`` from the MQTT_*_FILE settings; None for plain ``mqtt://``.

    The files are checked whenever one is set, even for a plain URL: a set but unusable file
    is a mistake either way. Raises `MqttTlsError` (one line naming the variable).
    """
    context = tls_context(
        ca_file=settings.MQTT_CA_FILE,
        cert_file=settings.MQTT_CLIENT_CERT_FILE,
        key_file=settings.MQTT_CLIENT_KEY_FILE,
    )
    return context if url.tls else None


def make_client(
    *,
    client_id: str,
    url: MqttUrl,
    manual_ack: bool = False,
    will: tuple[str, bytes] | None = None,
    tls: ssl.SSLContext | None = None,
) -> paho.Client:
    """A paho MQTT 5 client with TLS and credentials from ``url``; not yet connected.

    ``tls`` defaults to `mqtt_tls_context` (the settings' CA and client certificate).
    """
    client = paho.Client(
        paho.CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=paho.MQTTv5,
        manual_ack=manual_ack,
    )
    if url.tls:
        client.tls_set_context(tls or mqtt_tls_context(url))
    if url.username:
        client.username_pw_set(url.username, url.password)
    if will is not None:
        client.will_set(will[0], will[1], qos=1, retain=True)
    client.reconnect_delay_set(min_delay=1, max_delay=30)
    return client


def connect_properties(
    *, session_expiry_s: int = SESSION_EXPIRY_S, receive_maximum: int | None = None
) -> Properties:
    props = Properties(PacketTypes.CONNECT)
    # Without this property a v5 session ends at disconnect, clean_start or not (FINDINGS #2).
    props.SessionExpiryInterval = session_expiry_s
    if receive_maximum:
        props.ReceiveMaximum = receive_maximum
    return props


@dataclass(slots=True)
class _Received:
    topic: str
    payload: bytes
    received: float
    mid: int
    qos: int
    generation: int


class IngestSubscriber:
    """Receives on paho's network thread, stores and acknowledges on the calling thread.

    ``run()`` blocks until `stop()` (or SIGTERM/SIGINT when ``handle_signals``), then commits
    the batch in hand, acknowledges it, disconnects and returns 0.
    """

    def __init__(
        self,
        *,
        url: MqttUrl,
        client_id: str,
        shared_group: str | None = None,
        topic_root: str = "tracker/v1",
        batch_size: int = DEFAULT_BATCH_SIZE,
        batch_wait_s: float = DEFAULT_BATCH_WAIT_S,
        on_batch: Callable[[BatchResult, list[_Received], float], None] | None = None,
        tls: ssl.SSLContext | None = None,
        warm_devices: int = WARM_DEVICES_MAX,
    ) -> None:
        self.url = url
        self.client_id = client_id
        self.warm_devices = warm_devices
        self.filters = subscription_filters(root=topic_root, shared_group=shared_group)
        self.batch_size = batch_size
        self.batch_wait_s = batch_wait_s
        self.on_batch = on_batch
        self.totals = IngestTotals(client_id)
        self._buffer: deque[_Received] = deque()
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._generation = 0
        self._connected = False
        # Keep the broker from sending far more than two batches ahead of the writer.
        self.client = make_client(client_id=client_id, url=url, manual_ack=True, tls=tls)
        self.client.on_connect = self._on_connect
        self.client.on_connect_fail = self._on_connect_fail
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.receive_maximum = min(65535, max(1000, batch_size * 4))

    # -- paho callbacks (network thread): no business logic, no database --------------

    def _on_connect(
        self, client: paho.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any
    ) -> None:
        if reason_code.is_failure:
            log.error("broker refused the connection: %s", reason_code)
            return
        with self._cond:
            self._generation += 1
            self._connected = True
        log.info(
            "connected to %s as %s (session present: %s); subscribing to %s",
            self.url,
            self.client_id,
            flags.session_present,
            ", ".join(self.filters),
        )
        # Subscribe on every connect: harmless on a resumed session, required on a new one.
        client.subscribe([(f, SubscribeOptions(qos=1)) for f in self.filters])

    def _on_connect_fail(self, client: paho.Client, userdata: Any) -> None:
        # paho calls this inside its `except OSError` and passes no exception: read it
        # from there, so a refused certificate says why instead of retrying silently.
        exc = sys.exc_info()[1]
        if isinstance(exc, ssl.SSLCertVerificationError):
            reason = f"TLS: the broker's certificate was refused ({exc.verify_message}); check MQTT_CA_FILE and the host name"
        elif isinstance(exc, ssl.SSLError):
            reason = f"TLS: {exc.reason or exc}"
        else:
            reason = str(exc or "unknown error")
        log.error("could not connect to %s: %s; retrying", self.url, reason)

    def _on_subscribe(
        self, client: paho.Client, userdata: Any, mid: int, reason_codes: Any, properties: Any
    ) -> None:
        failed = [str(rc) for rc in reason_codes if rc.is_failure]
        if failed:
            log.error("subscription refused by the broker: %s", ", ".join(failed))

    def _on_disconnect(
        self, client: paho.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any
    ) -> None:
        with self._cond:
            self._connected = False
            # Unacknowledged messages come again on the next connection; drop the copies.
            self._buffer.clear()
            self._cond.notify_all()
        if not self._stopping.is_set():
            log.warning("disconnected from the broker (%s); reconnecting", reason_code)

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        try:
            topic = message.topic
        except UnicodeDecodeError:
            topic = message._topic.decode("utf-8", "replace")  # dead-lettered as off-contract
        item = _Received(
            topic, message.payload, time.time(), message.mid, message.qos, self._generation
        )
        with self._cond:
            self._buffer.append(item)
            if len(self._buffer) >= self.batch_size:
                self._cond.notify()

    # -- the writer loop (calling thread) ------------------------------------------------

    def stop(self, *_: Any) -> None:
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()

    def run(self, *, handle_signals: bool = True) -> int:
        if handle_signals:
            signal.signal(signal.SIGTERM, self.stop)
            signal.signal(signal.SIGINT, self.stop)
        self._warm()
        self.client.connect_async(
            self.url.host,
            self.url.port,
            keepalive=30,
            clean_start=False,
            properties=connect_properties(receive_maximum=self.receive_maximum),
        )
        self.client.loop_start()
        code = 0
        try:
            while not self._stopping.is_set():
                batch = self._take()
                if batch and not self._store(batch):
                    code = 1
                    break
            # Stopping: finish what is in hand (already received), then leave.
            with self._cond:
                batch = list(self._buffer)
                self._buffer.clear()
            if batch and not self._store(batch, final=True):
                code = 1
        finally:
            self.client.disconnect()
            self.client.loop_stop()
            log.info("ingest %s stopped", self.client_id)
        return code

    def _warm(self) -> None:
        """Load the fleet before subscribing, so the first batches do not wait on look-ups."""
        if self.warm_devices <= 0:
            return
        started = time.monotonic()
        try:
            loaded = warm_caches(limit=self.warm_devices)
        except DatabaseError as exc:
            # Not fatal: every look-up also loads on a miss, and the batches retry the database.
            log.warning("could not load the device cache (%s); loading devices as they report", exc)
            connections["default"].close()
            return
        # What is loaded by now (Django, the caches) lives as long as the process: kept out
        # of the collector's full scans, which took 88 ms each over 100,000 cached devices.
        gc.freeze()
        log.info("device cache loaded: %d devices in %.2fs", loaded, time.monotonic() - started)

    def _take(self) -> list[_Received]:
        """Up to batch_size messages, once the oldest of them has waited batch_wait_s.

        The wait counts from the oldest message's arrival, not from when the writer became
        free: messages that arrived while the previous batch was being written have already
        waited, so under load the next batch starts at once (group commit) and a message
        waits for at most one batch_wait_s plus one write.
        """
        with self._cond:
            while not self._buffer and not self._stopping.is_set():
                self._cond.wait(timeout=0.5)
            while (
                self._buffer and len(self._buffer) < self.batch_size and not self._stopping.is_set()
            ):
                remaining = self._buffer[0].received + self.batch_wait_s - time.time()
                if remaining <= 0:
                    break
                self._cond.wait(timeout=remaining)
            n = min(len(self._buffer), self.batch_size)
            return [self._buffer.popleft() for _ in range(n)]

    def _store(self, batch: list[_Received], *, final: bool = False) -> bool:
        messages = [
            InboundMessage(r.topic, r.payload, utc_from_timestamp(r.received)) for r in batch
        ]
        delay = 0.5
        deadline = time.monotonic() + 30 if final else None
        while True:
            close_old_connections()
            try:
                result = ingest_batch(messages, stats=self.totals)
                break
            except (OperationalError, InterfaceError) as exc:
                # The database is unreachable: keep the batch unacknowledged and retry. On a
                # stop, give up after a while; the broker keeps the messages for the next run.
                connections["default"].close()
                if self._stopping.is_set() and (deadline is None or time.monotonic() > deadline):
                    log.error(
                        "database unavailable while stopping (%s); leaving %d messages unacknowledged",
                        exc,
                        len(batch),
                    )
                    return False
                log.warning("database unavailable (%s); retrying the batch in %.1fs", exc, delay)
                time.sleep(delay)
                delay = min(delay * 2, 10.0)
        committed = time.time()
        generation = self._generation
        for r in batch:
            if r.qos and r.generation == generation:
                self.client.ack(r.mid, r.qos)
        if self.on_batch is not None:
            self.on_batch(result, batch, committed)
        if result.dead_letters:
            log.info(
                "batch of %d: %d dead letters %s",
                len(batch),
                result.dead_letters,
                {str(reason): n for reason, n in result.rejected.items()},
            )
        return True


class Publisher:
    """A QoS 1 publisher that caps its messages in flight.

    paho numbers in-flight messages with 16-bit ids and stalls near 65,535 unacknowledged
    (paho issue 377), so `publish()` blocks while ``max_in_flight`` are unacknowledged.
    Used by the gateway simulator, the tests and the benchmark.
    """

    def __init__(
        self,
        *,
        url: MqttUrl,
        client_id: str,
        will: tuple[str, bytes] | None = None,
        max_in_flight: int = 1000,
        clean_start: bool = True,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.client = make_client(client_id=client_id, url=url, will=will, tls=tls)
        self.client.max_inflight_messages_set(max_in_flight)
        self._slots = threading.BoundedSemaphore(max_in_flight)
        self._connected = threading.Event()
        self.url = url
        self.clean_start = clean_start
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *a: self._connected.clear()
        self.client.on_publish = self._on_publish
        self.refused: list[str] = []

    def _on_connect(
        self, client: paho.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any
    ) -> None:
        if reason_code.is_failure:
            self.refused.append(str(reason_code))
            return
        self._connected.set()

    def _on_publish(
        self, client: paho.Client, userdata: Any, mid: int, reason_code: Any, properties: Any
    ) -> None:
        # Every publish took a slot (QoS 0 ones too: paho reports them once sent).
        self._slots.release()

    def connect(self, timeout: float = 10.0) -> Publisher:
        self.client.connect(
            self.url.host, self.url.port, keepalive=30, clean_start=self.clean_start
        )
        self.client.loop_start()
        if not self._connected.wait(timeout):
            self.client.loop_stop()
            raise ConnectionError(
                f"could not connect to {self.url}: {', '.join(self.refused) or 'timeout'}"
            )
        return self

    def publish(
        self, topic: str, payload: bytes | str, *, qos: int = 1, retain: bool = False
    ) -> paho.MQTTMessageInfo:
        self._slots.acquire()
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc not in (paho.MQTT_ERR_SUCCESS, paho.MQTT_ERR_NO_CONN):
            self._slots.release()
        return info

    def flush(self, timeout: float = 60.0) -> bool:
        """Wait until every QoS 1 message was acknowledged by the broker."""
        deadline = time.monotonic() + timeout
        taken = 0
        limit = self._slots._initial_value  # type: ignore[attr-defined]
        try:
            while taken < limit:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._slots.acquire(timeout=remaining):
                    return False
                taken += 1
            return True
        finally:
            for _ in range(taken):
                self._slots.release()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def cut(self) -> None:
        """Drop the connection without DISCONNECT, as a gateway losing power would: the
        broker then publishes the Last Will."""
        self.client.loop_stop()
        sock = self.client.socket()
        if sock is not None:
            sock.close()
