"""Tests of signed, expiring image URLs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

import pytest

from custom_components.plate_tracker.matching.signing import (
    EXPIRES_PARAM,
    SIGNATURE_PARAM,
    UrlSigner,
)

SECRET = bytes(range(32))
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
CROP = "/api/plate_tracker/image/17/crop"


def signed_query(
    path: str = CROP, expires_at: datetime = NOW + timedelta(hours=1)
) -> dict[str, str]:
    """Sign a path and return its query as the image view would receive it."""
    return dict(
        parse_qsl(UrlSigner(SECRET).sign(path, expires_at), strict_parsing=True)
    )


def test_signed_link_opens_until_it_expires() -> None:
    """An officer opening the alert on a phone within the hour must see the picture."""
    query = signed_query()
    signer = UrlSigner(SECRET)
    assert signer.verify(CROP, query, NOW)
    assert signer.verify(CROP, query, NOW + timedelta(minutes=59, seconds=59))


def test_expired_link_is_refused() -> None:
    """A forwarded e-mail must stop showing personal data once the link expires."""
    query = signed_query()
    signer = UrlSigner(SECRET)
    assert not signer.verify(CROP, query, NOW + timedelta(hours=1))
    assert not signer.verify(CROP, query, NOW + timedelta(days=30))


def test_link_is_url_safe() -> None:
    """The query goes into URLs in notifications and e-mails and must survive unescaped."""
    query_string = UrlSigner(SECRET).sign(CROP, NOW)
    assert query_string.startswith(f"{EXPIRES_PARAM}=")
    assert all(char.isalnum() or char in "=&_-" for char in query_string)


def test_signature_does_not_open_another_image() -> None:
    """A leaked link must never become an open door to other sightings' images."""
    query = signed_query()
    signer = UrlSigner(SECRET)
    assert not signer.verify("/api/plate_tracker/image/18/crop", query, NOW)
    assert not signer.verify("/api/plate_tracker/image/17/snapshot", query, NOW)


def test_extended_expiry_is_refused() -> None:
    """Editing ``exp`` in a link must not keep it alive longer."""
    query = signed_query()
    query[EXPIRES_PARAM] = str(int(query[EXPIRES_PARAM]) + 86_400)
    assert not UrlSigner(SECRET).verify(CROP, query, NOW)


def test_signature_from_another_secret_is_refused() -> None:
    """Links made by another installation, or with a rotated secret, must not open images."""
    forged = dict(parse_qsl(UrlSigner(bytes(32)).sign(CROP, NOW + timedelta(hours=1))))
    assert not UrlSigner(SECRET).verify(CROP, forged, NOW)


@pytest.mark.parametrize(
    "query",
    [
        {},
        {EXPIRES_PARAM: "1780000000"},
        {SIGNATURE_PARAM: "A" * 43},
        {EXPIRES_PARAM: "soon", SIGNATURE_PARAM: "A" * 43},
        {EXPIRES_PARAM: "-1", SIGNATURE_PARAM: "A" * 43},
        {EXPIRES_PARAM: "9999999999", SIGNATURE_PARAM: "A" * 43},
        {EXPIRES_PARAM: "9999999999", SIGNATURE_PARAM: "not base64!"},
        {EXPIRES_PARAM: "9999999999", SIGNATURE_PARAM: ""},
    ],
)
def test_missing_or_forged_parameters_are_refused(query: dict[str, str]) -> None:
    """Guessed or truncated links must be refused, never crash the image view."""
    assert not UrlSigner(SECRET).verify(CROP, query, NOW)


def test_tampered_signature_is_refused() -> None:
    """Flipping one character of the signature must not pass."""
    query = signed_query()
    signature = query[SIGNATURE_PARAM]
    query[SIGNATURE_PARAM] = ("B" if signature[0] == "A" else "A") + signature[1:]
    assert not UrlSigner(SECRET).verify(CROP, query, NOW)


def test_short_secret_is_refused() -> None:
    """A short key makes signatures guessable; setup must fail loudly instead."""
    with pytest.raises(ValueError, match="at least"):
        UrlSigner(b"password")


def test_naive_times_are_refused() -> None:
    """A naive time would be read in the host's zone and shift every expiry."""
    signer = UrlSigner(SECRET)
    with pytest.raises(ValueError, match="timezone"):
        signer.sign(CROP, datetime(2026, 6, 1, 13, 0))  # noqa: DTZ001
    with pytest.raises(ValueError, match="timezone"):
        signer.verify(CROP, signed_query(), datetime(2026, 6, 1, 12, 0))  # noqa: DTZ001
