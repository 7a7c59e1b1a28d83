// Signing keys for the identity assertion (ES256). Loaded from assertion.key_files (the first one
// signs, all are published, so a rotated-out key stays verifiable while its tokens live) or, when
// none are configured, generated at start — fine for one replica, not for several behind a load
// balancer (each would publish a different key).
import { readFileSync } from 'node:fs';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importPKCS8, type CryptoKey, type JWK } from 'jose';
import { ConfigError } from '../errors.ts';

export interface SigningKeys {
  readonly signingKey: CryptoKey;
  readonly kid: string;
  readonly alg: 'ES256';
  /** The JWKS document for /.gatehouse/jwks (public keys only). */
  readonly jwks: { readonly keys: readonly JWK[] };
}

export async function loadSigningKeys(keyFiles: readonly string[] | undefined): Promise<SigningKeys> {
  const privates: CryptoKey[] = [];
  if (keyFiles && keyFiles.length > 0) {
    for (const [i, file] of keyFiles.entries()) {
      try {
        privates.push(await importPKCS8(readFileSync(file, 'utf8'), 'ES256', { extractable: true }));
      } catch (err) {
        throw new ConfigError([
          {
            path: `assertion.key_files[${i}]`,
            message: `cannot load an EC P-256 PKCS#8 private key from ${file}: ${(err as Error).message}`,
          },
        ]);
      }
    }
  } else {
    privates.push((await generateKeyPair('ES256', { extractable: true })).privateKey);
  }
  const keys: JWK[] = [];
  for (const k of privates) {
    const { d: _d, ...pub } = await exportJWK(k);
    void _d;
    const kid = await calculateJwkThumbprint(pub);
    keys.push({ ...pub, kid, alg: 'ES256', use: 'sig' });
  }
  return { signingKey: privates[0]!, kid: keys[0]!.kid!, alg: 'ES256', jwks: { keys } };
}
