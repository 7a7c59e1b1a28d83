// SAML single logout at /.gatehouse/saml/<id>/slo (HTTP-Redirect and HTTP-POST):
//   IdP-initiated: a LogoutRequest (signature checked) ends the sessions of that SessionIndex, or of
//                  that NameID, on every replica; the IdP gets a LogoutResponse (signed with our key).
//   SP-initiated:  the IdP's LogoutResponse to our LogoutRequest lands here; show "signed out".
// startSamlLogout builds the LogoutRequest URL for /.gatehouse/logout.
import { GatehouseError } from '../../errors.ts';
import type { SessionManager } from '../../session/manager.ts';
import type { SessionRecord } from '../../session/store.ts';
import type { Exchange } from '../../server/exchange.ts';
import { readFormBody } from '../../server/body.ts';
import { LOGOUT_PATH } from '../../server/endpoints.ts';
import { sendRedirect } from '../../server/respond.ts';
import type { SamlProvider } from './provider.ts';
import { hasDoctype } from './xml.ts';

const bad = (why: string, cause?: unknown) => new GatehouseError('GH_BAD_REQUEST', `SAML logout refused: ${why}.`, { cause });

export async function handleSamlSlo(ex: Exchange, sp: SamlProvider, sessions: SessionManager): Promise<void> {
  const method = ex.req.method;
  let result;
  let relayState: string;
  try {
    if (method === 'GET') {
      const params = strictRedirectParams(ex.query.slice(1));
      relayState = params.RelayState ?? '';
      // node-saml checks a redirect-binding signature only when one is present: require it, or
      // anyone could end anyone's session with a forged LogoutRequest.
      if (!params.Signature || !params.SigAlg) throw bad('the message is not signed');
      result = await sp.saml().validateRedirectAsync(params, ex.query.slice(1));
    } else if (method === 'POST') {
      const form = await readFormBody(ex.req, sp.config.maxResponseBytes * 2);
      relayState = form.get('RelayState') ?? '';
      const request = form.get('SAMLRequest');
      if (!request) throw bad('no SAMLRequest');
      if (hasDoctype(Buffer.from(request, 'base64').toString('utf8'))) throw bad('a DOCTYPE');
      result = await sp.saml().validatePostRequestAsync({ SAMLRequest: request });
    } else {
      throw new GatehouseError('GH_METHOD_NOT_ALLOWED', 'Single logout accepts GET and POST.');
    }
  } catch (err) {
    if (err instanceof GatehouseError) throw err;
    throw bad((err as Error).message, err);
  }
  const profile = result.profile;
  if (!profile) {
    // Our own logout came back from the IdP.
    sendRedirect(ex, 303, LOGOUT_PATH);
    return;
  }
  // An IdP-initiated LogoutRequest: each one once (a captured request must not be replayable).
  const requestId = typeof profile.ID === 'string' ? profile.ID : undefined;
  if (!requestId || !(await sessions.store.putOnce(`saml-slo:${sp.config.id}:${requestId}`, 86_400_000))) {
    throw bad(requestId ? 'this LogoutRequest was already used' : 'the LogoutRequest has no ID');
  }
  const sessionIndex = typeof profile.sessionIndex === 'string' ? profile.sessionIndex : undefined;
  const ended = await sessions.revokeByIdp(sp.config.id, sessionIndex ? { idpSession: sessionIndex } : { subject: profile.nameID });
  for (const key of ended) ex.event({ action: 'session_revoked', outcome: 'success', reason: 'saml_slo', idp: sp.config.id, session: key });
  const url = await sp.saml().getLogoutResponseUrlAsync(profile, relayState, {}, true);
  sendRedirect(ex, 302, url);
}

const REDIRECT_PARAMS = new Set(['SAMLRequest', 'SAMLResponse', 'RelayState', 'SigAlg', 'Signature']);

/**
 * HTTP-Redirect binding parameters, read so that what is verified is what is acted on: names must
 * be written literally (no percent-encoding), each at most once, exactly one message. Otherwise a
 * second, unsigned SAMLRequest — or "SAML%52equest" — could ride on a genuine signature.
 */
function strictRedirectParams(query: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of query.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const name = eq === -1 ? pair : pair.slice(0, eq);
    if (!REDIRECT_PARAMS.has(name)) {
      if (/^[A-Za-z0-9_.~-]*$/.test(name)) continue; // unrelated parameter, ignored (not signed over)
      throw bad('an encoded or unknown parameter name');
    }
    if (name in out) throw bad(`${name} appears twice`);
    try {
      out[name] = decodeURIComponent((eq === -1 ? '' : pair.slice(eq + 1)).replace(/\+/g, ' '));
    } catch {
      throw bad(`${name} is not valid percent-encoding`);
    }
  }
  if (('SAMLRequest' in out) === ('SAMLResponse' in out)) throw bad('exactly one of SAMLRequest and SAMLResponse is needed');
  return out;
}

/** The IdP's single-logout URL for this session, or undefined when the IdP has none. */
export async function samlLogoutUrl(sp: SamlProvider, key: string, record: SessionRecord, sessions: SessionManager): Promise<string | undefined> {
  let idp;
  try {
    idp = sp.idp();
  } catch {
    return undefined;
  }
  if (!idp.sloUrl) return undefined;
  const t = sessions.tokens(key, record);
  if (!t?.name_id) return undefined;
  return sp.saml().getLogoutUrlAsync({
    issuer: sp.config.spEntityId,
    nameID: t.name_id,
    nameIDFormat: t.name_id_format ?? sp.config.nameIdFormat,
    ...(t.session_index ? { sessionIndex: t.session_index } : {}),
  }, '', {});
}
