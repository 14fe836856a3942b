"""Signed, expiring image URLs that open from a phone notification or an e-mail.

A notification cannot carry a Home Assistant login, so the image view accepts a
signature instead. The signature binds one path to one expiry time, so a
leaked link opens that one image until it expires and nothing else.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import datetime
import hashlib
import hmac
import re
from urllib.parse import urlencode

EXPIRES_PARAM = "exp"
SIGNATURE_PARAM = "sig"
MIN_SECRET_BYTES = 32
"""HMAC-SHA256 keys shorter than its output weaken it; generate with ``secrets.token_bytes(32)``."""

# Versioned so that a future change of the signed message cannot make old
# signatures verify against the new rules.
_MESSAGE_PREFIX = b"plate_tracker-image-url-v1\n"
_EXPIRES_FORMAT = re.compile(r"[0-9]{1,12}")
_SIGNATURE_FORMAT = re.compile(r"[A-Za-z0-9_-]{43}")


class UrlSigner:
    """Sign and verify paths with an expiry time, using HMAC-SHA256."""

    def __init__(self, secret: bytes) -> None:
        """Use ``secret`` (at least MIN_SECRET_BYTES random bytes) as the key."""
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError(f"secret must be at least {MIN_SECRET_BYTES} bytes")
        self._secret = secret

    def sign(self, path: str, expires_at: datetime) -> str:
        """Return the query string (``exp=...&sig=...``) that opens ``path`` until ``expires_at``.

        ``path`` must be the exact form the view later passes to ``verify``
        (aiohttp's ``request.path``); the expiry is rounded down to the second.
        """
        expires = str(int(_aware(expires_at).timestamp()))
        return urlencode(
            {EXPIRES_PARAM: expires, SIGNATURE_PARAM: self._signature(path, expires)}
        )

    def verify(self, path: str, query: Mapping[str, str], now: datetime) -> bool:
        """Return whether ``query`` holds an unexpired signature made for ``path``.

        Refuses missing or malformed parameters, a signature made for another
        path or expiry, and a link whose expiry is at or before ``now``.
        """
        now_timestamp = _aware(now).timestamp()
        expires = query.get(EXPIRES_PARAM)
        signature = query.get(SIGNATURE_PARAM)
        if expires is None or signature is None:
            return False
        if not _EXPIRES_FORMAT.fullmatch(expires) or not _SIGNATURE_FORMAT.fullmatch(
            signature
        ):
            return False
        # Compare before looking at the expiry, so that timing reveals nothing
        # about which check failed.
        authentic = hmac.compare_digest(self._signature(path, expires), signature)
        return authentic and int(expires) > now_timestamp

    def _signature(self, path: str, expires: str) -> str:
        message = _MESSAGE_PREFIX + path.encode() + b"\n" + expires.encode()
        digest = hmac.new(self._secret, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _aware(moment: datetime) -> datetime:
    # A naive time would be read in the host's local zone and shift the expiry.
    if moment.tzinfo is None:
        raise ValueError("time must be timezone aware")
    return moment
