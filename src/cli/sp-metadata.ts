// `gatehouse sp-metadata --config FILE --idp ID`: print the SAML SP metadata to upload to the IdP
// (the same document as GET /.gatehouse/saml/<id>/metadata).
import { createSamlProvider } from '../auth/saml/sp.ts';
import { compileConfig } from '../config/compile.ts';
import { loadConfigFile } from '../config/load.ts';
import { silentLogger } from '../log.ts';

export function runSpMetadata(
  configPath: string,
  idp: string | undefined,
  out: (text: string) => void = (t) => process.stdout.write(t),
): number {
  const { config } = compileConfig(loadConfigFile(configPath));
  const saml = config.identityProviders.filter((p) => p.type === 'saml');
  const chosen = idp === undefined && saml.length === 1 ? saml[0] : saml.find((p) => p.id === idp);
  if (!chosen || chosen.type !== 'saml') {
    process.stderr.write(
      `gatehouse: ${idp ? `no SAML identity provider "${idp}"` : '--idp is required'}; SAML providers: ${saml.map((p) => p.id).join(', ') || 'none'}\n`,
    );
    return 1;
  }
  const sp = createSamlProvider(
    { ...chosen, metadataUrl: undefined, entryPoint: chosen.entryPoint ?? 'https://idp.invalid/' },
    config.server.publicUrl,
    silentLogger,
  );
  try {
    out(`${sp.metadata()}\n`);
  } finally {
    sp.close();
  }
  return 0;
}
