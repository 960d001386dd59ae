"""Pairing a browser: a one-time link (`/pair/CODE`) that the server exchanges for an HttpOnly session
cookie, so a phone need not be given the 32-character token, nor any new tab ask for it again.

Both the code and the session are signed with `http.token` (HMAC-SHA256), so `homeflow run` and
`homeflow pair` make codes without asking the running service, a session outlives a restart, and
changing the token ends every session. A code names when it expires (a few minutes on); the service
remembers the codes it has taken and refuses a code made before it started, so each works once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable

# Long enough to walk to the phone and scan; short enough that a photo of the screen soon is useless.
CODE_TTL_S = 600
COOKIE = "homeflow_session"
# A paired browser stays signed in this long (browsers cap cookies at 400 days).
SESSION_S = 180 * 24 * 3600
_SIGNATURE_CHARS = 16  # base32 characters of the HMAC in a code: 80 bits
_NONCE_BYTES = 4


class Pairing:
    """Makes and takes pairing codes, and makes and checks session cookies, for one token."""

    def __init__(self, token: str, now: Callable[[], float] = time.time) -> None:
        self._key = token.encode()
        self._now = now
        self._started = int(now())
        self._taken: dict[str, int] = {}  # code -> when it expires, until then

    def code(self) -> str:
        """A new code, valid once for `CODE_TTL_S`: when it expires, a nonce (two codes of one second
        differ), and their signature."""
        expires, nonce = int(self._now()) + CODE_TTL_S, secrets.token_hex(_NONCE_BYTES)
        return f"{expires:x}-{nonce}-{self._code_signature(expires, nonce)}"

    def redeem(self, code: str) -> bool:
        """Whether `code` is one of ours, unexpired, made since this service started and not taken
        before; it is taken now."""
        now = int(self._now())
        self._taken = {taken: until for taken, until in self._taken.items() if until >= now}
        stamp, _, rest = code.partition("-")
        nonce, _, signature = rest.partition("-")
        try:
            expires = int(stamp, 16)
        except ValueError:
            return False
        # One spelling per code, or "0x…" or capitals would take it a second time.
        if stamp != f"{expires:x}" or len(nonce) != 2 * _NONCE_BYTES or nonce != nonce.lower():
            return False
        if not hmac.compare_digest(signature.encode(), self._code_signature(expires, nonce).encode()):
            return False
        if not now <= expires <= now + CODE_TTL_S or expires - CODE_TTL_S < self._started:
            return False
        if code in self._taken:
            return False
        self._taken[code] = expires
        return True

    def session(self) -> str:
        """A new session cookie's value."""
        nonce = secrets.token_urlsafe(18)
        return f"{nonce}.{self._sign(f'session:{nonce}')}"

    def is_session(self, value: str) -> bool:
        nonce, _, signature = value.partition(".")
        if not nonce or not signature:
            return False
        return hmac.compare_digest(signature.encode(), self._sign(f"session:{nonce}").encode())

    def _code_signature(self, expires: int, nonce: str) -> str:
        return self._sign(f"pair:{expires}:{nonce}")[:_SIGNATURE_CHARS]

    def _sign(self, message: str) -> str:
        digest = hmac.new(self._key, message.encode(), hashlib.sha256).digest()
        return base64.b32encode(digest).decode().rstrip("=").lower()
