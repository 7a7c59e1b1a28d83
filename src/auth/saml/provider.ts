// A SAML IdP as an IdentityProvider (auth/provider.ts): SP-initiated sign-in over HTTP-Redirect,
// the assertion consumer service (acs), single logout (slo) and the SP metadata document
// (metadata), and SP-initiated single logout at the IdP. Built per runtime around a SamlProvider
// (sp.ts), which a reload may take over unchanged (metadata refresh survives it).
import { sendBody } from '../../http/respond.ts';
import type { AuthContext, IdentityProvider } from '../provider.ts';
import { handleSamlAcs } from './acs.ts';
import { startSamlLogin } from './login.ts';
import { handleSamlSlo, samlLogoutUrl } from './slo.ts';
import type { SamlProvider } from './sp.ts';

export function createSamlIdentityProvider(sp: SamlProvider, ctx: AuthContext): IdentityProvider {
  const id = sp.config.id;
  return {
    id,
    displayName: sp.config.displayName,
    kind: 'saml',
    startLogin: (ex, returnUrl) => startSamlLogin(ex, sp, returnUrl, ctx),
    endpoints: {
      acs: (ex) => handleSamlAcs(ex, sp, ctx),
      slo: (ex) => handleSamlSlo(ex, sp, ctx.sessions),
      metadata: async (ex) => {
        sendBody(ex, 200, 'application/samlmetadata+xml; charset=utf-8', sp.metadata(), {
          'content-disposition': `inline; filename="gatehouse-${id}-sp-metadata.xml"`,
        });
      },
    },
    logoutUrl: (_ex, session) => samlLogoutUrl(sp, session.key, session.record, ctx.sessions),
    ready: () => sp.ready(),
    close: () => sp.close(),
  };
}
