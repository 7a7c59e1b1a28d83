// IdP configuration for a SAML provider: from metadata (URL, fetched with undici and refreshed,
// the last good copy kept when a fetch fails; or a file), or from entry_point + idp_cert. Several
// signing certificates may be valid at once, so an IdP's certificate rotation needs no restart.
import { readFileSync } from 'node:fs';
import { request } from 'undici';
import type { SamlProviderConfig } from '../../config/types.ts';
import type { Logger } from '../../log.ts';
import { children, first, NS, parseXml } from './xml.ts';

export interface IdpInfo {
  readonly entityId: string | undefined;
  /** SingleSignOnService, HTTP-Redirect binding. */
  readonly ssoUrl: string;
  /** SingleLogoutService, HTTP-Redirect binding, if any. */
  readonly sloUrl: string | undefined;
  /** PEM bodies (base64, no armour) of the IdP's signing certificates. */
  readonly certs: readonly string[];
}

const REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';

export function parseIdpMetadata(xml: string): IdpInfo {
  const doc = parseXml(xml);
  const entity = first(doc, NS.md, 'EntityDescriptor');
  const idp = entity && first(entity, NS.md, 'IDPSSODescriptor');
  if (!idp) throw new Error('no IDPSSODescriptor in the metadata');
  const sso = children(idp, NS.md, 'SingleSignOnService').find((e) => e.getAttribute('Binding') === REDIRECT);
  if (!sso?.getAttribute('Location')) throw new Error('no HTTP-Redirect SingleSignOnService in the metadata');
  const slo = children(idp, NS.md, 'SingleLogoutService').find((e) => e.getAttribute('Binding') === REDIRECT);
  const certs = children(idp, NS.md, 'KeyDescriptor')
    .filter((k) => !k.getAttribute('use') || k.getAttribute('use') === 'signing')
    .flatMap((k) => children(k, NS.ds, 'X509Certificate'))
    .map((c) => (c.textContent ?? '').replace(/\s+/g, ''))
    .filter(Boolean);
  if (certs.length === 0) throw new Error('no signing certificate in the metadata');
  return {
    entityId: entity.getAttribute('entityID') ?? undefined,
    ssoUrl: sso.getAttribute('Location')!,
    sloUrl: slo?.getAttribute('Location') ?? undefined,
    certs: [...new Set(certs)],
  };
}

/** "-----BEGIN CERTIFICATE-----..." text, a file path, or bare base64 → bare base64. */
export function certBody(pemOrPath: string): string {
  const text = pemOrPath.includes('-----BEGIN') || /^[A-Za-z0-9+/=\s]{100,}$/.test(pemOrPath) ? pemOrPath : readFileSync(pemOrPath, 'utf8');
  return text.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
}

export interface IdpSource {
  /** Throws when no configuration has been obtained yet. */
  current(): IdpInfo;
  ready(): Promise<void>;
  close(): void;
}

export function createIdpSource(c: SamlProviderConfig, log: Logger): IdpSource {
  let info: IdpInfo | undefined;
  let lastError = 'metadata not fetched yet';
  let timer: NodeJS.Timeout | undefined;
  let markReady!: () => void;
  const ready = new Promise<void>((r) => (markReady = r));
  const set = (i: IdpInfo) => {
    info = { ...i, ...(c.sloUrl ? { sloUrl: c.sloUrl } : {}) };
    markReady();
  };

  if (c.entryPoint) {
    set({ entityId: c.idpIssuer, ssoUrl: c.entryPoint, sloUrl: c.sloUrl, certs: c.idpCerts.map(certBody) });
  } else if (c.metadataFile) {
    set(parseIdpMetadata(readFileSync(c.metadataFile, 'utf8')));
  } else if (c.metadataUrl) {
    const url = c.metadataUrl;
    const fetchOnce = async (attempt: number) => {
      let delay = c.metadataRefreshMs;
      try {
        const res = await request(url, { headersTimeout: 10_000, bodyTimeout: 10_000 });
        const body = await res.body.text();
        if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}`);
        set(parseIdpMetadata(body));
        attempt = 0;
      } catch (err) {
        lastError = (err as Error).message;
        // Keep the last good copy; retry sooner while we have none.
        delay = info ? Math.min(c.metadataRefreshMs, 60_000) : Math.min(1000 * 2 ** attempt, 60_000);
        log.warn({ idp: c.id, err: lastError, retry_in_ms: delay, using_last_good: info !== undefined }, 'SAML IdP metadata fetch failed');
        attempt++;
      }
      timer = setTimeout(() => void fetchOnce(attempt), delay);
      timer.unref();
    };
    void fetchOnce(0);
  }

  return {
    current() {
      if (!info) throw new Error(lastError);
      return info;
    },
    ready: () => ready,
    close() {
      if (timer) clearTimeout(timer);
    },
  };
}
