"""OpenID providers on loopback for the single sign-on tests.

`NodeProvider`: node's oidc-provider (tests/oidc/provider.mjs, packages pinned by
package-lock.json and installed with `npm ci` when node_modules is missing), a real provider
with discovery, JWKS, PKCE and one-time codes. `CraftedProvider`: a small Python provider
whose token endpoint answers ID tokens the test crafts (another audience, expired, signed by
a key outside its JWKS), so the app's real callback path meets what a misbehaving or forged
provider would send.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import requests
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from tests.conftest import skip_or_fail

HERE = Path(__file__).parent
CLIENT_ID = "tracker-tests"
CLIENT_SECRET = "tracker-tests-secret"  # noqa: S105  (a test provider's client)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _install_node_packages() -> None:
    if (HERE / "node_modules" / "oidc-provider").is_dir():
        return
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        skip_or_fail("node and npm are needed for the test OpenID provider (apt-get install npm)")
    done = subprocess.run(  # noqa: S603
        [str(npm), "ci", "--no-audit", "--no-fund"],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        skip_or_fail(f"npm ci in tests/oidc failed: {done.stderr[-500:]}")


@dataclass
class NodeProvider:
    """oidc-provider on 127.0.0.1, with one client whose redirect URI is ``redirect_uri``."""

    redirect_uri: str
    port: int = field(default_factory=_free_port)
    process: subprocess.Popen[str] | None = None

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> NodeProvider:
        _install_node_packages()
        self.process = subprocess.Popen(  # noqa: S603
            ["node", "provider.mjs", str(self.port), self.redirect_uri, CLIENT_ID, CLIENT_SECRET],  # noqa: S607
            cwd=HERE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("ready"):
            self.stop()
            skip_or_fail(f"the test OpenID provider did not start: {line!r}")
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def add_account(
        self, sub: str, *, email: str, groups: list[str], email_verified: bool = True
    ) -> None:
        """The claims the provider will state for ``sub`` from now on (replaces any before)."""
        body = {"sub": sub, "email": email, "email_verified": email_verified, "groups": groups}
        requests.post(f"{self.issuer}/test/accounts", json=body, timeout=10).raise_for_status()

    def sign_in(self, authorize_url: str, sub: str) -> str:
        """Follow the provider's sign-in as ``sub`` from ``authorize_url``; the URL the
        provider sends the browser back to (the app's callback, with code and state)."""
        browser = requests.Session()
        page = browser.get(authorize_url, timeout=10)
        page.raise_for_status()
        login = urljoin(page.url, urlsplit(page.url).path + "/login")
        response = browser.post(login, data={"subject": sub}, allow_redirects=False, timeout=10)
        for _ in range(10):
            location = urljoin(response.url, response.headers["Location"])
            if location.startswith(self.redirect_uri):
                return location
            response = browser.get(location, allow_redirects=False, timeout=10)
        raise AssertionError("the provider never sent the browser back")


class CraftedProvider:
    """Discovery, a JWKS and a token endpoint answering ``id_token_claims`` signed with
    ``signing_key``: the trusted key unless a test swaps in another."""

    def __init__(self) -> None:
        self.trusted_key = RSAKey.generate_key(2048, parameters={"kid": "trusted"})
        self.signing_key = self.trusted_key
        self.id_token_claims: dict[str, Any] = {}
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> CraftedProvider:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def id_token(self) -> str:
        header = {"alg": "RS256", "kid": self.signing_key.kid}
        return jwt.encode(header, self.id_token_claims, self.signing_key)

    def claims(self, **overrides: Any) -> dict[str, Any]:
        """Good claims for a sign-in that sent ``nonce``, with ``overrides`` applied."""
        now = int(time.time())
        good = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "sub": "crafted-1",
            "iat": now,
            "exp": now + 300,
            "email": "crafted@example.gov",
            "email_verified": True,
            "groups": ["ksp-admins"],
        }
        return {**good, **overrides}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return

            def _json(self, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                if self.path == "/.well-known/openid-configuration":
                    self._json(
                        {
                            "issuer": provider.issuer,
                            "authorization_endpoint": f"{provider.issuer}/auth",
                            "token_endpoint": f"{provider.issuer}/token",
                            "jwks_uri": f"{provider.issuer}/jwks",
                            "id_token_signing_alg_values_supported": ["RS256"],
                        }
                    )
                elif self.path == "/jwks":
                    self._json(KeySet([provider.trusted_key]).as_dict(private=False))
                else:
                    self.send_error(404)

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                form = parse_qs(self.rfile.read(length).decode())
                assert form.get("code_verifier"), "the token request must carry PKCE's verifier"
                self._json(
                    {"access_token": "at", "token_type": "Bearer", "id_token": provider.id_token()}
                )

        return Handler
