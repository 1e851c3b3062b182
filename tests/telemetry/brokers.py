"""Real brokers and a real ingest process for the subscriber tests.

* `mqtt_broker`: the broker of MQTT_URL when it is set (CI: the machine's Mosquitto, which
  keeps at most 1,000 queued messages per client), else an embedded iotcore broker on a free
  loopback port.
* `backlog_broker`: a broker that can queue a 20,000-message backlog: a private Mosquitto
  with the project's configuration when Mosquitto is installed, else the embedded broker.
* `mosquitto`: a private Mosquitto with the project's configuration (deploy/mosquitto/),
  on a free loopback port, that a test can stop, kill and restart; skipped (failed in CI)
  when the binary is missing. ``MosquittoProcess(..., tls_dir=...)`` adds the TLS listeners
  of deploy/mosquitto/conf.d/tls.conf with the certificates `issue_certificates` wrote there.
* `IngestProcess`: ``manage.py ingest_mqtt`` as a subprocess on the test database.
"""

from __future__ import annotations

import getpass
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from telemetry.management.commands.run_embedded_broker import write_config
from telemetry.mqtt import MqttUrl, parse_mqtt_url
from tests.conftest import skip_or_fail, wait_for

ROOT = Path(__file__).resolve().parents[2]
MOSQUITTO = shutil.which("mosquitto") or (
    "/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto") else None
)
PROJECT_CONF = ROOT / "deploy" / "mosquitto" / "mosquitto.conf"
PROJECT_TLS_CONF = ROOT / "deploy" / "mosquitto" / "conf.d" / "tls.conf"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.3):
            return True
    except OSError:
        return False


@dataclass
class Broker:
    url: MqttUrl
    kind: str  # "external", "embedded" or "mosquitto"

    @property
    def url_string(self) -> str:
        user = ""
        if self.url.username:
            user = f"{self.url.username}:{self.url.password or ''}@"
        return f"mqtt://{user}{self.url.host}:{self.url.port}"


class EmbeddedBroker:
    def __init__(self, directory: Path) -> None:
        from iotcore import Broker as IotBroker

        self.port = free_port()
        self.v311_port = free_port()
        path = write_config(
            host="127.0.0.1", port=self.port, v311_port=self.v311_port, directory=directory
        )
        self._broker = IotBroker(config_path=str(path))

    def start(self) -> EmbeddedBroker:
        self._broker.start()
        return self

    def stop(self) -> None:
        self._broker.stop()


def render_mosquitto_conf(
    *, port: int, data_dir: Path, password_file: Path | None = None, acl_file: Path | None = None
) -> str:
    """The project's configuration, moved to a free port and a private data folder."""
    lines = []
    for line in PROJECT_CONF.read_text().splitlines():
        key = line.split(" ", 1)[0]
        if key == "listener":
            line = f"listener {port} 127.0.0.1"
        elif key == "persistence_location":
            line = f"persistence_location {data_dir}/"
        elif key == "password_file":
            line = f"password_file {password_file}" if password_file else ""
        elif key == "acl_file":
            line = f"acl_file {acl_file}" if acl_file else ""
        elif key == "allow_anonymous":
            line = "allow_anonymous false" if password_file else "allow_anonymous true"
        elif key == "autosave_interval":
            line = "autosave_interval 1"
        lines.append(line)
    # Running as root Mosquitto drops to user "mosquitto", which cannot write a test's folder.
    lines.append(f"user {getpass.getuser()}")
    return "\n".join(lines) + "\n"


def render_tls_conf(*, ports: dict[int, int], tls_dir: Path) -> str:
    """conf.d/tls.conf with each listener moved to a free loopback port (``ports``: the
    file's port to the test's) and the certificates of ``tls_dir``."""
    files = {
        "cafile": tls_dir / "ca.crt",
        "certfile": tls_dir / "broker.crt",
        "keyfile": tls_dir / "broker.key",
    }
    lines = []
    for line in PROJECT_TLS_CONF.read_text().splitlines():
        key, _, value = line.partition(" ")
        if key == "listener":
            line = f"listener {ports[int(value)]} 127.0.0.1"
        elif key in files:
            line = f"{key} {files[key]}"
        lines.append(line)
    return "\n".join(lines) + "\n"


class MosquittoProcess:
    """A private Mosquitto with the project's configuration; stop/kill/start keep its data.

    With ``tls_dir``, also the TLS listeners: ``tls_port`` (the file's 8883, passwords) and
    ``cert_port`` (8884, client certificates).
    """

    def __init__(
        self,
        directory: Path,
        *,
        password_file: Path | None = None,
        acl_file: Path | None = None,
        tls_dir: Path | None = None,
    ) -> None:
        self.directory = directory
        self.port = free_port()
        self.tls_port, self.cert_port = free_port(), free_port()
        self.data_dir = directory / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.conf = directory / "mosquitto.conf"
        text = render_mosquitto_conf(
            port=self.port, data_dir=self.data_dir, password_file=password_file, acl_file=acl_file
        )
        if tls_dir is not None:
            text += render_tls_conf(
                ports={8883: self.tls_port, 8884: self.cert_port}, tls_dir=tls_dir
            )
        self.conf.write_text(text)
        self.log = directory / "mosquitto.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> MosquittoProcess:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [MOSQUITTO, "-c", str(self.conf)], stdout=log, stderr=subprocess.STDOUT
            )
        wait_for(
            lambda: port_open("127.0.0.1", self.port) or self.process.poll() is not None,
            timeout=10,
            what="mosquitto to listen",
        )
        if self.process.poll() is not None:
            pytest.fail(f"mosquitto exited at start: {self.log.read_text()[-2000:]}")
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def url(self, username: str | None = None, password: str | None = None) -> MqttUrl:
        return MqttUrl(
            host="127.0.0.1", port=self.port, username=username, password=password, tls=False
        )


@pytest.fixture(scope="session")
def mqtt_broker(tmp_path_factory) -> Iterator[Broker]:
    if os.environ.get("MQTT_URL"):
        url = parse_mqtt_url(os.environ["MQTT_URL"])
        if not port_open(url.host, url.port):
            skip_or_fail(f"MQTT_URL broker {url} is not reachable")
        yield Broker(url=url, kind="external")
        return
    embedded = EmbeddedBroker(tmp_path_factory.mktemp("embedded-broker")).start()
    try:
        yield Broker(url=MqttUrl("127.0.0.1", embedded.port, None, None, False), kind="embedded")
    finally:
        embedded.stop()


@pytest.fixture
def mosquitto(tmp_path) -> Iterator[MosquittoProcess]:
    if MOSQUITTO is None:
        skip_or_fail("Mosquitto is not installed (apt-get install mosquitto)")
    broker = MosquittoProcess(tmp_path / "mosquitto").start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def backlog_broker(tmp_path) -> Iterator[Broker]:
    if MOSQUITTO is not None:
        broker = MosquittoProcess(tmp_path / "mosquitto").start()
        try:
            yield Broker(url=broker.url(), kind="mosquitto")
        finally:
            broker.stop()
        return
    embedded = EmbeddedBroker(tmp_path / "embedded").start()
    try:
        yield Broker(url=MqttUrl("127.0.0.1", embedded.port, None, None, False), kind="embedded")
    finally:
        embedded.stop()


def test_database_url() -> str:
    """DATABASE_URL of the database the tests run on, for a subprocess."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


test_database_url.__test__ = False  # type: ignore[attr-defined]  (not a test)


class IngestProcess:
    """``manage.py ingest_mqtt`` in a subprocess against the test database."""

    def __init__(
        self,
        tmp_path: Path,
        broker_url: str,
        *,
        client_id: str,
        shared: str | None = None,
        batch_size: int = 500,
        extra_args: list[str] | None = None,
    ) -> None:
        self.log_path = tmp_path / f"ingest-{client_id}.log"
        self.args = [
            sys.executable,
            str(ROOT / "manage.py"),
            "ingest_mqtt",
            "--url",
            broker_url,
            "--client-id",
            client_id,
            "--batch-size",
            str(batch_size),
            "--batch-wait",
            "0.05",
        ]
        if shared:
            self.args += ["--shared", shared]
        self.args += extra_args or []
        self.env = {
            **os.environ,
            "DATABASE_URL": test_database_url(),
            "PYTHONUNBUFFERED": "1",
            "MQTT_TOPIC_ROOT": settings.MQTT_TOPIC_ROOT,
        }
        self.process: subprocess.Popen[bytes] | None = None
        self._log_offset = 0

    def start(self) -> IngestProcess:
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.args, env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT
            )
        return self

    def log(self, *, since_start: bool = True) -> str:
        if not self.log_path.exists():
            return ""
        data = self.log_path.read_bytes()
        return (
            data[self._log_offset :].decode(errors="replace")
            if since_start
            else data.decode(errors="replace")
        )

    def wait_connected(self, timeout: float = 20.0) -> re.Match[str]:
        def connected() -> re.Match[str] | None:
            if self.process is not None and self.process.poll() is not None:
                pytest.fail(
                    f"ingest exited early ({self.process.returncode}):\n{self.log()[-3000:]}"
                )
            return re.search(r"session present: (True|False)", self.log())

        return wait_for(connected, timeout=timeout, what="the ingest to connect")  # type: ignore[return-value]

    def terminate(self, timeout: float = 30.0) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=timeout)
        self.process = None
        return code

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.kill()


@pytest.fixture
def ingest_process(tmp_path) -> Iterator[Callable[..., IngestProcess]]:
    started: list[IngestProcess] = []

    def start(broker: Broker, **kwargs: object) -> IngestProcess:
        proc = IngestProcess(tmp_path, broker.url_string, **kwargs).start()  # type: ignore[arg-type]
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.close()
