"""`CALLCENTER_WEBHOOKS` is read as JSON and refused with a message naming what is
wrong (never the secret); the signature is the HMAC a receiver can recompute."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from pydantic import ValidationError

from callcenter.config import SecretSettingError, load_settings
from callcenter.webhooks.signing import sign, verify

GOOD = {
    "name": "province",
    "url": "https://platform.example.gov.cn/hooks/12345",
    "secret": "s3cret-of-the-province-platform",
    "events": ["call.offered", "call.ended"],
}


def _load(monkeypatch: pytest.MonkeyPatch, subscriptions: object) -> object:
    monkeypatch.setenv("CALLCENTER_WEBHOOKS", json.dumps(subscriptions))
    return load_settings()


def test_subscriptions_read_from_json(monkeypatch: pytest.MonkeyPatch) -> None:
    unnamed = GOOD | {"name": None, "url": "http://10.0.0.5:8080/in", "events": ["callback.done"]}
    settings = _load(monkeypatch, [GOOD, unnamed])
    assert [w.key for w in settings.webhooks] == ["province", "http://10.0.0.5:8080/in"]  # type: ignore[attr-defined]
    assert "s3cret" not in repr(settings)


def test_every_event_the_service_announces_may_be_subscribed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    events = ["call.offered", "call.answered", "call.intake", "call.ended", "callback.done"]
    settings = _load(monkeypatch, [GOOD | {"events": events}])
    assert settings.webhooks[0].events == events  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"url": "ftp://platform/x"}, "url must be an http:// or https:// URL"),
        ({"url": "https://"}, "url must be an http:// or https:// URL"),
        ({"events": ["call.transferred"]}, "unknown event(s) ['call.transferred']"),
        ({"events": []}, "events"),
        ({"secret": None}, "secret"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_bad_subscription_is_named(
    monkeypatch: pytest.MonkeyPatch, change: dict[str, object], message: str
) -> None:
    subscription = {k: v for k, v in (GOOD | change).items() if v is not None}
    with pytest.raises(ValidationError) as refused:
        _load(monkeypatch, [subscription])
    assert message in str(refused.value) and "webhooks.0" in str(refused.value)


def test_a_short_secret_is_refused_without_showing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SecretSettingError) as refused:
        _load(monkeypatch, [GOOD | {"secret": "hunter2"}])
    assert "at least 16 characters" in str(refused.value)
    assert "hunter2" not in str(refused.value)


def test_two_subscriptions_of_one_name_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match=r"two subscriptions named \['province'\]"):
        _load(monkeypatch, [GOOD, GOOD | {"url": "https://other.example/x"}])


def test_signature_is_the_hex_hmac_sha256_of_the_body() -> None:
    body = b'{"id":"e1","type":"call.ended"}'
    expected = hmac.new(b"k" * 16, body, hashlib.sha256).hexdigest()
    assert sign("k" * 16, body) == f"sha256={expected}"
    assert verify("k" * 16, body, f"sha256={expected}")
    assert not verify("k" * 16, body + b" ", f"sha256={expected}")
    assert not verify("j" * 16, body, f"sha256={expected}")


def test_serve_builds_the_dispatcher_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from unittest.mock import MagicMock

    from callcenter.process.service import Service
    from callcenter.webhooks.deliveries import SqlDeliveries

    deliveries = SqlDeliveries(MagicMock())
    assert Service(load_settings())._build_dispatcher(deliveries) is None
    monkeypatch.setenv("CALLCENTER_WEBHOOK_RETRY_HOURS", "2")
    monkeypatch.setenv("CALLCENTER_WEBHOOK_CONCURRENCY", "5")
    settings = _load(monkeypatch, [GOOD])
    dispatcher = Service(settings)._build_dispatcher(deliveries)  # type: ignore[arg-type]
    assert dispatcher is not None
    assert dispatcher.policy.give_up_after_s == 7200 and dispatcher.concurrency == 5
    assert list(dispatcher.subscriptions) == ["province"]
