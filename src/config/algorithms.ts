// The one list of JWS algorithms Gatehouse accepts on a signature it checks (IdP tokens, back-channel
// logout, Shared Signals events): asymmetric only — never "none", never HS*, which would take a
// public key as the shared secret.
export const ASYMMETRIC_ALGS = Object.freeze([
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const);
