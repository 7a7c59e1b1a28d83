// The record Gatehouse keeps for a signed-in browser: plain data shared by the session store
// (which persists it) and the request exchange (which carries the one a request presented). It
// lives here, below both, so the HTTP kit can name it without importing the session layer.

/** What Gatehouse remembers about a signed-in browser. Keyed by the SHA-256 of the session id. */
export interface SessionRecord {
  readonly v: 1;
  readonly user: string;
  readonly email?: string | undefined;
  readonly name?: string | undefined;
  readonly groups: readonly string[];
  /** Identity provider id from the config. */
  readonly idp: string;
  /** How the session was made: 'oidc', 'saml', ... */
  readonly method: string;
  /** Epoch milliseconds. */
  readonly createdAt: number;
  readonly lastSeenAt: number;
  readonly absoluteExpiresAt: number;
  /** IdP tokens, AES-256-GCM sealed by the manager; opaque to stores. */
  readonly tokens?: string | undefined;
  /** The IdP's subject (OIDC `sub`, SAML NameID), for IdP-initiated logout. */
  readonly subject?: string | undefined;
  /** The IdP's session id (OIDC `sid`, SAML SessionIndex), for IdP-initiated logout. */
  readonly idpSession?: string | undefined;
  /** Epoch ms after which the IdP should be asked again (token refresh / revalidation). */
  readonly refreshAt?: number | undefined;
  /** 'cli': a session made for `gatehouse login` (user tokens); absent for browser sessions. */
  readonly kind?: 'cli' | undefined;
}
