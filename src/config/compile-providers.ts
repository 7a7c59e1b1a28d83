// identity_providers: OIDC clients and SAML service providers.
import { Findings, type Checked } from './findings.ts';
import type { RawConfig, RawOidcProvider, RawSamlProvider } from './schema.ts';
import { Secret } from './secret.ts';
import type { IdentityProviderConfig, OidcProviderConfig, SamlAttributeNames, SamlProviderConfig } from './types.ts';
import { LOOPBACK_HOSTS, parseDuration, parseSize } from './units.ts';

export function compileProviders(list: RawConfig['identity_providers'], devMode: boolean): Checked<IdentityProviderConfig[]> {
  const f = new Findings();
  const seen = new Map<string, number>();
  return f.result(
    list.map((provider, i): IdentityProviderConfig => {
      const at = `identity_providers[${i}]`;
      const first = seen.get(provider.id);
      if (first !== undefined) f.problem(`${at}.id`, `duplicate identity provider id "${provider.id}" (also identity_providers[${first}])`);
      else seen.set(provider.id, i);
      return f.take<IdentityProviderConfig>(
        provider.type === 'saml' ? compileSaml(provider, at, devMode) : compileOidc(provider, at, devMode),
      );
    }),
  );
}

function compileOidc(oidc: RawOidcProvider, at: string, devMode: boolean): Checked<OidcProviderConfig> {
  const f = new Findings();
  const issuer = new URL(oidc.issuer);
  const loopback = LOOPBACK_HOSTS.has(issuer.hostname);
  if (issuer.protocol === 'http:' && !(devMode && loopback)) {
    f.problem(`${at}.issuer`, 'must be https:// (plain http only for a loopback IdP in dev mode)');
  }
  if (!oidc.scopes.includes('openid')) f.problem(`${at}.scopes`, 'must include "openid"');
  if (parseDuration(oidc.timeout) < 100) f.problem(`${at}.timeout`, 'must be at least 100ms');
  if (parseDuration(oidc.health_check_interval) < 1000) f.problem(`${at}.health_check_interval`, 'must be at least 1s');
  if (oidc.token_endpoint_auth_method !== 'private_key_jwt' && oidc.client_secret === undefined) {
    f.problem(`${at}.client_secret`, `required with token_endpoint_auth_method ${oidc.token_endpoint_auth_method}`);
  }
  if (oidc.token_endpoint_auth_method === 'private_key_jwt' && oidc.private_key_file === undefined) {
    f.problem(`${at}.private_key_file`, 'required with token_endpoint_auth_method private_key_jwt');
  }
  const bearerCache = (key: 'introspection' | 'bearer_userinfo') => {
    const v = oidc[key];
    if (!v?.enabled) return undefined;
    if (oidc.bearer_audiences === undefined) f.problem(`${at}.${key}`, 'needs bearer_audiences (which tokens this IdP may vouch for)');
    const cacheTtlMs = parseDuration(v.cache_ttl);
    if (cacheTtlMs < 1000 || cacheTtlMs > 3_600_000) f.problem(`${at}.${key}.cache_ttl`, 'must be between 1s and 1h');
    return { cacheTtlMs };
  };
  return f.result({
    id: oidc.id,
    type: 'oidc' as const,
    displayName: oidc.display_name ?? oidc.id,
    // Issuer identifiers compare exactly: keep what the user wrote (no trailing-slash games).
    issuer: oidc.issuer,
    clientId: oidc.client_id,
    clientSecret: oidc.client_secret === undefined ? undefined : new Secret(oidc.client_secret),
    authMethod: oidc.token_endpoint_auth_method,
    privateKeyFile: oidc.private_key_file,
    privateKeyAlg: oidc.private_key_alg,
    scopes: oidc.scopes,
    claims: oidc.claims,
    splitGroupValuesOn: oidc.split_group_values_on,
    userinfo: oidc.userinfo,
    authorizationParams: oidc.authorization_params ?? {},
    revalidateMs: oidc.revalidate_interval === undefined ? undefined : parseDuration(oidc.revalidate_interval),
    clockToleranceSec: Math.ceil(parseDuration(oidc.clock_tolerance) / 1000),
    postLogoutRedirectUri: oidc.post_logout_redirect_uri,
    bearerAudiences: oidc.bearer_audiences,
    introspection: bearerCache('introspection'),
    bearerUserinfo: bearerCache('bearer_userinfo'),
    serviceAccounts: Object.fromEntries(
      Object.entries(oidc.service_accounts ?? {}).map(([id, a]) => [id, { user: a.user, groups: a.groups }]),
    ),
    allowInsecureHttp: issuer.protocol === 'http:' && devMode && loopback,
    timeoutMs: parseDuration(oidc.timeout),
    healthIntervalMs: parseDuration(oidc.health_check_interval),
  });
}

// Attribute names by IdP family (SAML attribute Name or FriendlyName), most specific first.
const SAML_PRESETS: Record<RawSamlProvider['preset'], Omit<SamlAttributeNames, 'user'> & { user: readonly string[] }> = {
  generic: {
    user: [],
    email: [
      'email',
      'mail',
      'emailAddress',
      'urn:oid:0.9.2342.19200300.100.1.3',
      'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress',
    ],
    name: ['displayName', 'name', 'urn:oid:2.16.840.1.113730.3.1.241', 'http://schemas.microsoft.com/identity/claims/displayname'],
    firstName: [
      'givenName',
      'firstName',
      'first_name',
      'urn:oid:2.5.4.42',
      'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname',
    ],
    lastName: [
      'sn',
      'surname',
      'lastName',
      'last_name',
      'urn:oid:2.5.4.4',
      'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname',
    ],
    groups: [
      'groups',
      'memberOf',
      'urn:oid:1.3.6.1.4.1.5923.1.5.1.1',
      'http://schemas.microsoft.com/ws/2008/06/identity/claims/groups',
      'http://schemas.xmlsoap.org/claims/Group',
    ],
  },
  azure: {
    user: ['http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name'],
    email: ['http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress'],
    name: ['http://schemas.microsoft.com/identity/claims/displayname'],
    firstName: ['http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname'],
    lastName: ['http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname'],
    groups: ['http://schemas.microsoft.com/ws/2008/06/identity/claims/groups'],
  },
  adfs: {
    user: ['http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn'],
    email: ['http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress'],
    name: ['http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name'],
    firstName: ['http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname'],
    lastName: ['http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname'],
    groups: ['http://schemas.xmlsoap.org/claims/Group', 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role'],
  },
  okta: { user: [], email: ['email'], name: ['displayName', 'name'], firstName: ['firstName'], lastName: ['lastName'], groups: ['groups'] },
  google: {
    user: [],
    email: ['email'],
    name: ['name'],
    firstName: ['first_name', 'firstName'],
    lastName: ['last_name', 'lastName'],
    groups: ['groups'],
  },
};

function compileSaml(saml: RawSamlProvider, at: string, devMode: boolean): Checked<SamlProviderConfig> {
  const f = new Findings();
  const sources = [saml.idp_metadata_url, saml.idp_metadata_file, saml.entry_point].filter((x) => x !== undefined).length;
  if (sources !== 1) f.problem(at, 'set exactly one of idp_metadata_url, idp_metadata_file, or entry_point (+ idp_cert)');
  if (saml.entry_point !== undefined && saml.idp_cert === undefined) f.problem(`${at}.idp_cert`, 'required with entry_point');
  if (saml.sp_cert_file !== undefined && saml.sp_key_file === undefined) f.problem(`${at}.sp_key_file`, 'required with sp_cert_file');
  let insecure = false;
  for (const [key, url] of [
    ['idp_metadata_url', saml.idp_metadata_url],
    ['entry_point', saml.entry_point],
    ['slo_url', saml.slo_url],
  ] as const) {
    if (url === undefined) continue;
    const u = new URL(url);
    if (u.protocol === 'http:') {
      if (devMode && LOOPBACK_HOSTS.has(u.hostname)) insecure = true;
      else f.problem(`${at}.${key}`, 'must be https:// (plain http only for a loopback IdP in dev mode)');
    }
  }
  const preset = SAML_PRESETS[saml.preset];
  const pick = (own: string | undefined, fallback: readonly string[]) => (own !== undefined ? [own] : fallback);
  const written = saml.attributes;
  return f.result({
    id: saml.id,
    type: 'saml',
    displayName: saml.display_name ?? saml.id,
    metadataUrl: saml.idp_metadata_url,
    metadataFile: saml.idp_metadata_file,
    entryPoint: saml.entry_point,
    idpCerts: saml.idp_cert === undefined ? [] : Array.isArray(saml.idp_cert) ? saml.idp_cert : [saml.idp_cert],
    idpIssuer: saml.idp_issuer,
    sloUrl: saml.slo_url,
    spEntityId: saml.sp_entity_id,
    spKeyFile: saml.sp_key_file,
    spCertFile: saml.sp_cert_file,
    spDecryptionKeyFile: saml.sp_decryption_key_file ?? saml.sp_key_file,
    signed: saml.signed,
    attributes: {
      user: pick(written.user, preset.user),
      email: pick(written.email, preset.email),
      name: pick(written.name, preset.name),
      firstName: pick(written.first_name, preset.firstName),
      lastName: pick(written.last_name, preset.lastName),
      groups: pick(written.groups, preset.groups),
    },
    userAttributeRequired: written.user !== undefined,
    nameIdFormat: saml.nameid_format,
    allowIdpInitiated: saml.allow_idp_initiated,
    splitGroupValuesOn: saml.split_group_values_on,
    clockSkewMs: parseDuration(saml.clock_skew),
    maxResponseBytes: parseSize(saml.max_response_size),
    metadataRefreshMs: parseDuration(saml.metadata_refresh),
    allowInsecureHttp: insecure,
  });
}
