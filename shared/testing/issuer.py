"""A real token issuer for tests: Ed25519 keys, a JWKS served over HTTP, and signed tokens."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from joserfc.jwk import ECKey, Key, KeySet, OKPKey

from shared.auth.tokens import new_signing_key, sign_token

__all__ = ["JWKS_PATH", "TestIssuer"]

JWKS_PATH = "/.well-known/jwks.json"

SigningKey = OKPKey | ECKey


class TestIssuer:
    """Signs tokens like the organisations service will, and publishes its keys at :attr:`jwks_url`.

    :meth:`rotate` switches signing to a fresh key and keeps the previous ones published, as
    an issuer does while tokens signed by the old key are still in flight; :meth:`retire_old_keys`
    then stops publishing them. :attr:`fetch_count` counts JWKS requests, so tests can check
    a verifier's caching against the real thing.
    """

    __test__ = False  # its name starts with "Test"; keep pytest from collecting it

    def __init__(self, *, issuer: str = "tila-test", audience: str = "tila") -> None:
        self.issuer = issuer
        self.audience = audience
        self._lock = threading.Lock()
        self._signing_key: SigningKey = new_signing_key()
        self._published: list[Key] = [self._signing_key]
        self._fetch_count = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- server ---

    def start(self) -> TestIssuer:
        """Serve the JWKS on 127.0.0.1 on a free port from a background thread."""
        if self._server is not None:
            raise RuntimeError("issuer already started")
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="test-issuer", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    @property
    def jwks_url(self) -> str:
        if self._server is None:
            raise RuntimeError("issuer not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{JWKS_PATH}"

    @property
    def fetch_count(self) -> int:
        with self._lock:
            return self._fetch_count

    # --- keys ---

    @property
    def signing_key(self) -> SigningKey:
        with self._lock:
            return self._signing_key

    @property
    def published_kids(self) -> list[str]:
        with self._lock:
            return [str(key.kid) for key in self._published]

    def rotate(self) -> OKPKey:
        """Sign with a fresh Ed25519 key from now on; the old keys stay published."""
        key = new_signing_key()
        with self._lock:
            self._published.append(key)
            self._signing_key = key
        return key

    def publish(self, key: Key) -> None:
        """Publish another key (a P-256 one, or a kind verifiers must refuse) without signing with it."""
        with self._lock:
            self._published.append(key)

    def retire_old_keys(self) -> None:
        """Publish only the current signing key."""
        with self._lock:
            self._published = [self._signing_key]

    def jwks(self) -> dict[str, Any]:
        """The published key set, public halves only."""
        with self._lock:
            keys = list(self._published)
        return dict(KeySet(keys).as_dict(private=False))

    # --- tokens ---

    def token(
        self,
        *,
        tenant_id: uuid.UUID | None,
        roles: Iterable[str] = (),
        scopes: Iterable[str] = (),
        subject: str | None = None,
        expires_in: int = 300,
        key: SigningKey | None = None,
        **extra_claims: Any,
    ) -> str:
        """A signed access token; ``extra_claims`` are added last and override the defaults.

        ``tenant_id=None`` leaves ``tid`` out, and an extra claim set to None is dropped, so a
        test can build a token that lacks any claim. ``key`` signs with a key of the test's
        choosing (published or not) instead of the current one.
        """
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject if subject is not None else f"user:{uuid.uuid4()}",
            "tid": str(tenant_id) if tenant_id is not None else None,
            "roles": sorted(roles),
            "scope": " ".join(sorted(scopes)),
            "jti": uuid.uuid4().hex,
            "iat": now,
            "exp": now + expires_in,
        }
        claims.update(extra_claims)
        signing_key = key if key is not None else self.signing_key
        return sign_token(signing_key, {k: v for k, v in claims.items() if v is not None})

    def _record_fetch(self) -> bytes:
        with self._lock:
            self._fetch_count += 1
        return json.dumps(self.jwks()).encode()

    def __enter__(self) -> TestIssuer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def _handler_for(issuer: TestIssuer) -> type[BaseHTTPRequestHandler]:
    class _JwksHandler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != JWKS_PATH:
                self.send_error(404)
                return
            body = issuer._record_fetch()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            # Tests read their own output; a line per JWKS request would only bury it.
            pass

    return _JwksHandler
