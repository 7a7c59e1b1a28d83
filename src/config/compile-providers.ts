// identity_providers: OIDC clients and SAML service providers.
import type { ConfigProblem } from '../errors.ts';
import type { RawConfig, RawSamlProvider } from './schema.ts';
import { Secret } from './secret.ts';
import type { IdentityProviderConfig, SamlAttributeNames, SamlProviderConfig } from './types.ts';
import { LOOPBACK_HOSTS, parseDuration, parseSize } from './units.ts';

export function compileProviders(list: RawConfig['identity_providers'], devMode: boolean, problems: ConfigProblem[]): IdentityProviderConfig[] {
  const seen = new Map<string, number>();
  return list.map((p, i): IdentityProviderConfig => {
    const at = `identity_providers[${i}]`;
    const first = seen.get(p.id);
    if (first !== undefined) problems.push({ path: `${at}.id`, message: `duplicate identity provider id "${p.id}" (also identity_providers[${first}])` });
    else seen.set(p.id, i);
    if (p.type === 'saml') return compileSaml(p, at, devMode, problems);
    const issuer = new URL(p.issuer);
    const loopback = LOOPBACK_HOSTS.has(issuer.hostname);
    if (issuer.protocol === 'http:' && !(devMode && loopback)) {
      problems.push({ path: `${at}.issuer`, message: 'must be https:// (plain http only for a loopback IdP in dev mode)' });
    }
    if (!p.scopes.includes('openid')) problems.push({ path: `${at}.scopes`, message: 'must include "openid"' });
    if (parseDuration(p.timeout) < 100) problems.push({ path: `${at}.timeout`, message: 'must be at least 100ms' });
    if (parseDuration(p.health_check_interval) < 1000) problems.push({ path: `${at}.health_check_interval`, message: 'must be at least 1s' });
    if (p.token_endpoint_auth_method !== 'private_key_jwt' && p.client_secret === undefined) {
      problems.push({ path: `${at}.client_secret`, message: `required with token_endpoint_auth_method ${p.token_endpoint_auth_method}` });
    }
    if (p.token_endpoint_auth_method === 'private_key_jwt' && p.private_key_file === undefined) {
      problems.push({ path: `${at}.private_key_file`, message: 'required with token_endpoint_auth_method private_key_jwt' });
    }
    const bearerCache = (key: 'introspection' | 'bearer_userinfo') => {
      const v = p[key];
      if (!v?.enabled) return undefined;
      if (p.bearer_audiences === undefined) problems.push({ path: `${at}.${key}`, message: 'needs bearer_audiences (which tokens this IdP may vouch for)' });
      const cacheTtlMs = parseDuration(v.cache_ttl);
      if (cacheTtlMs < 1000 || cacheTtlMs > 3_600_000) problems.push({ path: `${at}.${key}.cache_ttl`, message: 'must be between 1s and 1h' });
      return { cacheTtlMs };
    };
    return {
      id: p.id,
      type: 'oidc' as const,
      displayName: p.display_name ?? p.id,
      // Issuer identifiers compare exactly: keep what the user wrote (no trailing-slash games).
      issuer: p.issuer,
      clientId: p.client_id,
      clientSecret: p.client_secret === undefined ? undefined : new Secret(p.client_secret),
      authMethod: p.token_endpoint_auth_method,
      privateKeyFile: p.private_key_file,
      privateKeyAlg: p.private_key_alg,
      scopes: p.scopes,
      claims: p.claims,
      splitGroupValuesOn: p.split_group_values_on,
      userinfo: p.userinfo,
      authorizationParams: p.authorization_params ?? {},
      revalidateMs: p.revalidate_interval === undefined ? undefined : parseDuration(p.revalidate_interval),
      clockToleranceSec: Math.ceil(parseDuration(p.clock_tolerance) / 1000),
      postLogoutRedirectUri: p.post_logout_redirect_uri,
      bearerAudiences: p.bearer_audiences,
      introspection: bearerCache('introspection'),
      bearerUserinfo: bearerCache('bearer_userinfo'),
      allowInsecureHttp: issuer.protocol === 'http:' && devMode && loopback,
      timeoutMs: parseDuration(p.timeout),
      healthIntervalMs: parseDuration(p.health_check_interval),
    };
  });
}

// Attribute names by IdP family (SAML attribute Name or FriendlyName), most specific first.
const SAML_PRESETS: Record<RawSamlProvider['preset'], Omit<SamlAttributeNames, 'user'> & { user: readonly string[] }> = {
  generic: {
    user: [],
    email: ['email', 'mail', 'emailAddress', 'urn:oid:0.9.2342.19200300.100.1.3', 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress'],
    name: ['displayName', 'name', 'urn:oid:2.16.840.1.113730.3.1.241', 'http://schemas.microsoft.com/identity/claims/displayname'],
    firstName: ['givenName', 'firstName', 'first_name', 'urn:oid:2.5.4.42', 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname'],
    lastName: ['sn', 'surname', 'lastName', 'last_name', 'urn:oid:2.5.4.4', 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname'],
    groups: ['groups', 'memberOf', 'urn:oid:1.3.6.1.4.1.5923.1.5.1.1', 'http://schemas.microsoft.com/ws/2008/06/identity/claims/groups', 'http://schemas.xmlsoap.org/claims/Group'],
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
  google: { user: [], email: ['email'], name: ['name'], firstName: ['first_name', 'firstName'], lastName: ['last_name', 'lastName'], groups: ['groups'] },
};

function compileSaml(p: RawSamlProvider, at: string, devMode: boolean, problems: ConfigProblem[]): SamlProviderConfig {
  const sources = [p.idp_metadata_url, p.idp_metadata_file, p.entry_point].filter((x) => x !== undefined).length;
  if (sources !== 1) problems.push({ path: at, message: 'set exactly one of idp_metadata_url, idp_metadata_file, or entry_point (+ idp_cert)' });
  if (p.entry_point !== undefined && p.idp_cert === undefined) problems.push({ path: `${at}.idp_cert`, message: 'required with entry_point' });
  if (p.sp_cert_file !== undefined && p.sp_key_file === undefined) problems.push({ path: `${at}.sp_key_file`, message: 'required with sp_cert_file' });
  let insecure = false;
  for (const [key, url] of [['idp_metadata_url', p.idp_metadata_url], ['entry_point', p.entry_point], ['slo_url', p.slo_url]] as const) {
    if (url === undefined) continue;
    const u = new URL(url);
    if (u.protocol === 'http:') {
      if (devMode && LOOPBACK_HOSTS.has(u.hostname)) insecure = true;
      else problems.push({ path: `${at}.${key}`, message: 'must be https:// (plain http only for a loopback IdP in dev mode)' });
    }
  }
  const preset = SAML_PRESETS[p.preset];
  const pick = (own: string | undefined, fallback: readonly string[]) => (own !== undefined ? [own] : fallback);
  const a = p.attributes;
  return {
    id: p.id,
    type: 'saml',
    displayName: p.display_name ?? p.id,
    metadataUrl: p.idp_metadata_url,
    metadataFile: p.idp_metadata_file,
    entryPoint: p.entry_point,
    idpCerts: p.idp_cert === undefined ? [] : Array.isArray(p.idp_cert) ? p.idp_cert : [p.idp_cert],
    idpIssuer: p.idp_issuer,
    sloUrl: p.slo_url,
    spEntityId: p.sp_entity_id,
    spKeyFile: p.sp_key_file,
    spCertFile: p.sp_cert_file,
    spDecryptionKeyFile: p.sp_decryption_key_file ?? p.sp_key_file,
    signed: p.signed,
    attributes: {
      user: pick(a.user, preset.user),
      email: pick(a.email, preset.email),
      name: pick(a.name, preset.name),
      firstName: pick(a.first_name, preset.firstName),
      lastName: pick(a.last_name, preset.lastName),
      groups: pick(a.groups, preset.groups),
    },
    userAttributeRequired: a.user !== undefined,
    nameIdFormat: p.nameid_format,
    allowIdpInitiated: p.allow_idp_initiated,
    splitGroupValuesOn: p.split_group_values_on,
    clockSkewMs: parseDuration(p.clock_skew),
    maxResponseBytes: parseSize(p.max_response_size),
    metadataRefreshMs: parseDuration(p.metadata_refresh),
    allowInsecureHttp: insecure,
  };
}
