// One SAML 2.0 service provider per configured `type: saml` IdP, on @node-saml/node-saml 5.1+: the
// protocol core that saml/provider.ts exposes as an IdentityProvider (and `gatehouse sp-metadata` uses).
// node-saml verifies signatures (only the signed assertion is used: no signature wrapping), the
// audience and the Conditions times. acs.ts adds what it leaves to the caller: InResponseTo bound
// to this browser's pending sign-in, the bearer SubjectConfirmation (Recipient, its own times),
// Destination, the status, replay, and size/DOCTYPE/shape limits before any of node-saml's work.
import { readFileSync } from 'node:fs';
import { SAML, type SamlConfig } from '@node-saml/node-saml';
import type { SamlProviderConfig } from '../../config/types.ts';
import { GatehouseError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import { createIdpSource, type IdpInfo, type IdpSource } from './idp-metadata.ts';

export interface SamlProvider {
  readonly config: SamlProviderConfig;
  readonly acsUrl: string;
  readonly sloUrl: string;
  /** The IdP as last configured; throws GH_IDP_UNAVAILABLE until metadata was obtained. */
  idp(): IdpInfo;
  /** A node-saml instance for one operation (`requestId` becomes the AuthnRequest ID). */
  saml(requestId?: string): SAML;
  /** SP metadata XML to give the IdP. */
  metadata(): string;
  ready(): Promise<void>;
  close(): void;
}

const pemBody = (pem: string) => pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');

export function createSamlProvider(c: SamlProviderConfig, publicUrl: string, log: Logger): SamlProvider {
  const base = `${publicUrl}/.gatehouse/saml/${c.id}`;
  const acsUrl = `${base}/acs`;
  const sloUrl = `${base}/slo`;
  const spKey = c.spKeyFile ? readFileSync(c.spKeyFile, 'utf8') : undefined;
  const spCert = c.spCertFile ? readFileSync(c.spCertFile, 'utf8') : undefined;
  const decryptionKey = c.spDecryptionKeyFile ? readFileSync(c.spDecryptionKeyFile, 'utf8') : undefined;
  const source: IdpSource = createIdpSource(c, log);
  if (c.splitGroupValuesOn) {
    log.warn(
      { idp: c.id, separator: c.splitGroupValuesOn },
      `SAML group values are split on "${c.splitGroupValuesOn}" (split_group_values_on): a group whose name contains it grants each part`,
    );
  }

  const idp = (): IdpInfo => {
    try {
      return source.current();
    } catch (err) {
      throw new GatehouseError('GH_IDP_UNAVAILABLE', `SAML identity provider ${c.id} is not configured yet (${(err as Error).message})`, {
        cause: err,
      });
    }
  };

  const options = (info: IdpInfo | undefined, requestId?: string): SamlConfig => ({
    callbackUrl: acsUrl,
    logoutCallbackUrl: sloUrl,
    entryPoint: info?.ssoUrl ?? 'https://idp.invalid/',
    logoutUrl: info?.sloUrl ?? info?.ssoUrl ?? 'https://idp.invalid/',
    issuer: c.spEntityId,
    audience: c.spEntityId,
    idpCert: info?.certs.length ? [...info.certs] : ['MISSING'],
    ...((c.idpIssuer ?? info?.entityId) ? { idpIssuer: c.idpIssuer ?? info?.entityId } : {}),
    wantAssertionsSigned: c.signed === 'assertion' || c.signed === 'both',
    wantAuthnResponseSigned: c.signed === 'response' || c.signed === 'both',
    acceptedClockSkewMs: c.clockSkewMs,
    identifierFormat: c.nameIdFormat,
    // InResponseTo is checked against this browser's pending sign-in in acs.ts.
    validateInResponseTo: 'never' as SamlConfig['validateInResponseTo'],
    disableRequestedAuthnContext: true,
    ...(requestId ? { generateUniqueId: () => requestId } : {}),
    ...(spKey ? { privateKey: spKey, signatureAlgorithm: 'sha256' as const } : {}),
    ...(decryptionKey ? { decryptionPvk: decryptionKey } : {}),
  });

  return {
    config: c,
    acsUrl,
    sloUrl,
    idp,
    saml: (requestId) => new SAML(options(idp(), requestId)),
    metadata() {
      let info: IdpInfo | undefined;
      try {
        info = source.current();
      } catch {
        info = undefined; // SP metadata does not depend on the IdP's
      }
      const signing = spCert ? [pemBody(spCert)] : null;
      return new SAML(options(info)).generateServiceProviderMetadata(decryptionKey && spCert ? pemBody(spCert) : null, signing);
    },
    ready: () => source.ready(),
    close: () => source.close(),
  };
}
