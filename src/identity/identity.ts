// Who the request is: the one shape every sign-in (OIDC, SAML, bearer JWT) produces and every
// consumer (policy, identity headers, assertion, audit) reads.
export interface Identity {
  readonly user: string;
  readonly email?: string | undefined;
  readonly name?: string | undefined;
  readonly groups: readonly string[];
  readonly idp: string;
}
