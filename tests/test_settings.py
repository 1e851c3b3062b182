"""Settings helpers: a bad value in the environment stops the process with the variable's name."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.settings import env_share, env_usd


def test_a_share_is_read_from_the_environment_or_its_file(monkeypatch, tmp_path):
    monkeypatch.setenv("TRACKER_TEST_SHARE", "0.25")
    assert env_share("TRACKER_TEST_SHARE", 0.1) == 0.25
    secret = tmp_path / "share"
    secret.write_text("0.5\n")
    monkeypatch.setenv("TRACKER_TEST_SHARE_FILE", str(secret))
    assert env_share("TRACKER_TEST_SHARE", 0.1) == 0.5


@pytest.mark.parametrize("raw", ["1.5", "-0.1", "ten percent", "nan"])
def test_a_share_outside_zero_to_one_is_refused(monkeypatch, raw):
    monkeypatch.setenv("TRACKER_TEST_SHARE", raw)
    with pytest.raises(ImproperlyConfigured, match="TRACKER_TEST_SHARE=.*between 0 and 1"):
        env_share("TRACKER_TEST_SHARE", 0.1)


def test_an_amount_keeps_its_cents(monkeypatch):
    monkeypatch.delenv("TRACKER_TEST_USD", raising=False)
    assert env_usd("TRACKER_TEST_USD", "25") == Decimal("25")
    monkeypatch.setenv("TRACKER_TEST_USD", "12.34")
    assert env_usd("TRACKER_TEST_USD", "25") == Decimal("12.34")


@pytest.mark.parametrize("raw", ["-1", "twenty", "Infinity", "NaN"])
def test_a_negative_or_unreadable_amount_is_refused(monkeypatch, raw):
    monkeypatch.setenv("TRACKER_TEST_USD", raw)
    with pytest.raises(ImproperlyConfigured, match="TRACKER_TEST_USD=.*amount in USD"):
        env_usd("TRACKER_TEST_USD", "25")


@pytest.mark.django_db
@pytest.mark.parametrize(("fallbacks", "signed_in"), [(True, True), (False, False)])
def test_a_rotated_secret_key_keeps_sessions_only_with_the_old_key_in_the_fallbacks(
    admin_a, settings, fallbacks, signed_in
):
    assert admin_a.browser.get("/account/sessions/").status_code == 200
    old = settings.SECRET_KEY
    settings.SECRET_KEY = "a-new-key-" + "x" * 50
    settings.SECRET_KEY_FALLBACKS = [old] if fallbacks else []
    response = admin_a.browser.get("/account/sessions/")
    assert (response.status_code == 200) is signed_in


def test_the_cache_is_each_process_memory_by_default_and_redis_from_a_url(monkeypatch):
    from config.settings import env_cache

    monkeypatch.delenv("TRACKER_CACHE_URL", raising=False)
    assert env_cache("TRACKER_CACHE_URL")["default"]["BACKEND"].endswith("LocMemCache")
    monkeypatch.setenv("TRACKER_CACHE_URL", "redis://127.0.0.1:6379/1")
    assert env_cache("TRACKER_CACHE_URL")["default"] == {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:6379/1",
    }
    monkeypatch.setenv("TRACKER_CACHE_URL", "memcached://127.0.0.1:11211")
    with pytest.raises(ImproperlyConfigured, match="TRACKER_CACHE_URL=.*Redis URL"):
        env_cache("TRACKER_CACHE_URL")
