"""Real MQTT brokers for the tests (filled in with the subscriber tests)."""

import pytest


@pytest.fixture
def mqtt_broker():
    pytest.skip("not yet")


@pytest.fixture
def mosquitto():
    pytest.skip("not yet")
