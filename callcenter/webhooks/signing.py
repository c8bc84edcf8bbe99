"""The webhook signature: `X-Hotline-Signature: sha256=<hex HMAC-SHA256 of the body>`,
keyed with the subscription's secret. A receiver computes the same over the raw body it
read (before parsing it) and compares in constant time (`verify`)."""

from __future__ import annotations

import hashlib
import hmac

PREFIX = "sha256="


def sign(secret: str, body: bytes) -> str:
    """The header's value for `body`."""
    return PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str) -> bool:
    """Whether `header` is the signature of `body` with `secret`."""
    return hmac.compare_digest(sign(secret, body), header)
