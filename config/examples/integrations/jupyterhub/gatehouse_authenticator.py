"""JupyterHub authenticator for a hub behind Gatehouse: verifies, does not trust.

Gatehouse signs every proxied request's identity into X-Gatehouse-Assertion, a short-lived
ES256 JWT whose keys are at /.gatehouse/jwks. This authenticator accepts a user only when that
token verifies (signature, issuer, audience = the hub route's upstream, expiry). A request that
reached the hub's port some other way, with a bare X-Forwarded-User or a forged token, is refused.

- user names: a spawner-safe name from a claim (default "sub", the Gatehouse `user`, often an
  e-mail): local part, lower-cased, [a-z0-9_-] only, starting with a letter, at most 32 characters;
- admin: members of `admin_groups`; groups synced to the hub (manage_groups);
- identity changes in the same browser: every cookie-authenticated request is checked against its
  assertion; another user's (or none) makes the hub sign in again;
- the hub's Logout clears its cookies, then continues to Gatehouse's logout.

Needs PyJWT with cryptography (Debian: python3-jwt, python3-cryptography). Tested by
test/tools/jupyterhub.test.ts against Debian's jupyterhub 3.0.
"""

import asyncio
import re
import unicodedata

import jwt
from jupyterhub.auth import Authenticator
from jupyterhub.handlers import BaseHandler, LogoutHandler
from tornado import web
from traitlets import Bool, Float, List, Unicode


def safe_username(value, max_length=32):
    """A name LocalProcessSpawner and useradd accept, derived from an e-mail or any claim.

    The same rule as Gatehouse's identity_headers.username (src/identity/username.ts).
    """
    name = unicodedata.normalize("NFKD", value.split("@", 1)[0])
    name = "".join(ch for ch in name if not unicodedata.combining(ch)).lower()
    name = re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9_-]+", "-", name))
    name = re.sub(r"^[^a-z]+", "", name).rstrip("-_")
    return name[:max_length].rstrip("-_")


class GatehouseLoginHandler(BaseHandler):
    """/hub/login: sign in from the request's assertion, no form."""

    async def get(self):
        user = await self.login_user()
        if user is None:
            raise web.HTTPError(403, "No valid X-Gatehouse-Assertion: sign in through Gatehouse.")
        self.redirect(self.get_next_url(user))


class GatehouseLogoutHandler(LogoutHandler):
    """/hub/logout: the hub's own clean-up, then Gatehouse's sign-out (else it signs you back in)."""

    async def render_logout_page(self):
        self.redirect(self.authenticator.gatehouse_logout_url, permanent=False)


class GatehouseAuthenticator(Authenticator):
    jwks_url = Unicode(help="Gatehouse's JWKS, e.g. https://hub.corp.example/.gatehouse/jwks").tag(config=True)
    issuer = Unicode(help="Gatehouse's server.public_url (the assertion's iss).").tag(config=True)
    audience = Unicode(help="The hub route's upstream origin as Gatehouse has it, e.g. http://127.0.0.1:8000").tag(config=True)
    assertion_header = Unicode("X-Gatehouse-Assertion").tag(config=True)
    username_claim = Unicode("sub", help="Claim the JupyterHub user name is derived from.").tag(config=True)
    admin_groups = List(Unicode(), ["ml-admins"], help="Members of these groups are hub admins.").tag(config=True)
    gatehouse_logout_url = Unicode("/.gatehouse/logout").tag(config=True)
    leeway = Float(10.0, help="Clock skew allowed on exp/iat, seconds.").tag(config=True)
    # Check every cookie-authenticated request (not every 5 min): identity follows the browser.
    auth_refresh_age = Float(1e-6).tag(config=True)
    manage_groups = Bool(True).tag(config=True)

    _jwks_client = None

    def _client(self):
        if self._jwks_client is None:
            self._jwks_client = jwt.PyJWKClient(self.jwks_url, cache_keys=True)
        return self._jwks_client

    async def verify(self, handler):
        """The verified claims of the request's assertion, or None."""
        token = handler.request.headers.get(self.assertion_header, "")
        if not token or not self.jwks_url or not self.audience or not self.issuer:
            return None
        loop = asyncio.get_running_loop()
        try:
            key = await loop.run_in_executor(None, self._client().get_signing_key_from_jwt, token)
            return jwt.decode(
                token, key.key, algorithms=["ES256", "ES384", "RS256", "EdDSA"],
                audience=self.audience, issuer=self.issuer.rstrip("/"), leeway=self.leeway,
                options={"require": ["exp", "iat", "sub", "aud", "iss"]},
            )
        except (jwt.PyJWTError, OSError) as err:
            self.log.warning("Refused X-Gatehouse-Assertion: %s", err)
            return None

    def _model(self, claims):
        name = safe_username(str(claims.get(self.username_claim, "")))
        if not name:
            return None
        groups = [g for g in claims.get("groups", []) if isinstance(g, str)]
        return {
            "name": name,
            "admin": any(g in self.admin_groups for g in groups),
            "groups": groups,
        }

    async def authenticate(self, handler, data=None):
        claims = await self.verify(handler)
        return self._model(claims) if claims else None

    async def refresh_user(self, user, handler=None):
        if handler is None:
            return True
        # API tokens (the single-user servers, services) are the hub's own credentials.
        if handler.get_token() is not None:
            return True
        claims = await self.verify(handler)
        model = self._model(claims) if claims else None
        if model is None or model["name"] != user.name:
            return False
        return model

    def login_url(self, base_url):
        return base_url.rstrip("/") + "/login"

    def logout_url(self, base_url):
        return base_url.rstrip("/") + "/logout"

    def get_handlers(self, app):
        return [("/login", GatehouseLoginHandler), ("/logout", GatehouseLogoutHandler)]
