// SAML single logout at /.gatehouse/saml/<id>/slo (HTTP-Redirect and HTTP-POST):
//   IdP-initiated: a LogoutRequest (signature checked) ends the sessions of that SessionIndex, or of
//                  that NameID, on every replica; the IdP gets a LogoutResponse (signed with our key).
//   SP-initiated:  the IdP's LogoutResponse to our LogoutRequest lands here; show "signed out".
// startSamlLogout builds the LogoutRequest URL for /.gatehouse/logout.
// Before node-saml sees a message: bounded inflation (HTTP-Redirect), size, DOCTYPE and shape
// limits. After its signature check, a LogoutRequest must be addressed to our SLO URL and recent
// (IssueInstant), so that no signed request outlives the memory that makes it single-use.
import { inflateRawSync } from 'node:zlib';
import { GatehouseError } from '../../errors.ts';
import type { SessionManager } from '../../session/manager.ts';
import type { SessionRecord } from '../../session/store.ts';
import type { Exchange } from '../../http/exchange.ts';
import { readFormBody } from '../../http/body.ts';
import { LOGOUT_PATH } from '../../http/endpoints.ts';
import { sendRedirect } from '../../http/respond.ts';
import { parseDateTime } from './confirmation.ts';
import { samlLibraryReason } from './library-errors.ts';
import type { SamlProvider } from './sp.ts';
import { checkXmlShape, describeXmlShapeProblem, hasDoctype, parseXml } from './xml.ts';

const bad = (why: string, cause?: unknown) => new GatehouseError('GH_BAD_REQUEST', `SAML logout refused: ${why}.`, { cause });

/** How long a LogoutRequest's ID is remembered (each is honoured once). */
const SLO_REPLAY_MEMORY_MS = 86_400_000;
/**
 * The oldest IssueInstant honoured. An IdP sends a LogoutRequest through the browser the moment it
 * builds it (Shibboleth SP refuses messages older than 60 s by default); ten minutes leaves room
 * for slow logout chains and, with the clock skew, stays far inside the replay memory above.
 */
const LOGOUT_REQUEST_MAX_AGE_MS = 10 * 60_000;

const tooLarge = () => new GatehouseError('GH_PAYLOAD_TOO_LARGE', 'The SAML logout message is larger than this service accepts.');

/** Size, DOCTYPE and shape checks on a message's XML, before any parser or signature check. */
function checkMessage(xml: string, maxBytes: number): void {
  if (xml.length > maxBytes) throw tooLarge();
  if (hasDoctype(xml)) throw bad('a DOCTYPE');
  const shape = checkXmlShape(xml);
  if (!shape) return;
  const why = describeXmlShapeProblem(shape);
  throw shape.kind === 'too-many'
    ? new GatehouseError('GH_PAYLOAD_TOO_LARGE', `The SAML logout message is larger than this service accepts: ${why}.`)
    : bad(`the message was refused before any signature check: ${why}`);
}

/** An HTTP-Redirect message: base64 of DEFLATE, inflated to at most `maxBytes` (no decompression bomb). */
function inflateMessage(b64: string, maxBytes: number): string {
  try {
    return inflateRawSync(Buffer.from(b64, 'base64'), { maxOutputLength: maxBytes }).toString('utf8');
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge();
    throw bad('the message is not DEFLATE-compressed', err);
  }
}

/** A verified LogoutRequest is honoured only when addressed to us and issued within the window. */
function checkLogoutRequest(xml: string, sp: SamlProvider, nowMs: number): void {
  const request = parseXml(xml).documentElement!;
  // SAML bindings §3.4.5.2 / §3.5.5.2: a signed message names where it was sent.
  const destination = request.getAttribute('Destination');
  if (destination === null) throw bad('the LogoutRequest has no Destination');
  if (destination !== sp.sloUrl)
    throw bad(`the LogoutRequest's Destination is ${JSON.stringify(destination.slice(0, 200))}, not this service's single logout URL`);
  const issuedText = request.getAttribute('IssueInstant');
  const issued = issuedText === null ? undefined : parseDateTime(issuedText);
  if (issued === undefined) throw bad('the LogoutRequest has no valid IssueInstant');
  const skew = sp.config.clockSkewMs;
  const maxAge = Math.min(LOGOUT_REQUEST_MAX_AGE_MS, SLO_REPLAY_MEMORY_MS - 2 * skew);
  if (issued > nowMs + skew) throw bad(`the LogoutRequest's IssueInstant ${issuedText} is in the future`);
  if (issued < nowMs - maxAge - skew) throw bad(`the LogoutRequest's IssueInstant ${issuedText} is too old`);
}

export async function handleSamlSlo(ex: Exchange, sp: SamlProvider, sessions: SessionManager): Promise<void> {
  const method = ex.req.method;
  let result;
  let relayState: string;
  let xml: string;
  const maxBytes = sp.config.maxResponseBytes;
  try {
    if (method === 'GET') {
      const params = strictRedirectParams(ex.query.slice(1));
      relayState = params.RelayState ?? '';
      // node-saml checks a redirect-binding signature only when one is present: require it, or
      // anyone could end anyone's session with a forged LogoutRequest.
      if (!params.Signature || !params.SigAlg) throw bad('the message is not signed');
      xml = inflateMessage(params.SAMLRequest ?? params.SAMLResponse ?? '', maxBytes);
      checkMessage(xml, maxBytes);
      result = await sp.saml().validateRedirectAsync(params, ex.query.slice(1));
    } else if (method === 'POST') {
      const form = await readFormBody(ex.req, Math.ceil(maxBytes * 1.5) + 4096);
      relayState = form.get('RelayState') ?? '';
      const request = form.get('SAMLRequest');
      if (!request) throw bad('no SAMLRequest');
      xml = Buffer.from(request, 'base64').toString('utf8');
      checkMessage(xml, maxBytes);
      result = await sp.saml().validatePostRequestAsync({ SAMLRequest: request });
    } else {
      throw new GatehouseError('GH_METHOD_NOT_ALLOWED', 'Single logout accepts GET and POST.');
    }
  } catch (err) {
    if (err instanceof GatehouseError) throw err;
    throw bad(samlLibraryReason(err), err);
  }
  const profile = result.profile;
  if (!profile) {
    // Our own logout came back from the IdP.
    sendRedirect(ex, 303, LOGOUT_PATH);
    return;
  }
  // An IdP-initiated LogoutRequest, signature verified: for us, recent, and each one once (a
  // captured request must not be replayable).
  checkLogoutRequest(xml, sp, Date.now());
  const requestId = typeof profile.ID === 'string' ? profile.ID : undefined;
  if (!requestId || !(await sessions.replay.once('saml-slo', sp.config.id, requestId, SLO_REPLAY_MEMORY_MS))) {
    throw bad(requestId ? 'this LogoutRequest was already used' : 'the LogoutRequest has no ID');
  }
  const sessionIndex = typeof profile.sessionIndex === 'string' ? profile.sessionIndex : undefined;
  const ended = await sessions.revokeByIdp(sp.config.id, sessionIndex ? { idpSession: sessionIndex } : { subject: profile.nameID });
  for (const { key, record } of ended)
    ex.event({ action: 'session_revoked', outcome: 'success', reason: 'saml_slo', idp: sp.config.id, session: key, user: record });
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
  if ('SAMLRequest' in out === 'SAMLResponse' in out) throw bad('exactly one of SAMLRequest and SAMLResponse is needed');
  return out;
}

/** The IdP's single-logout URL for this session, or undefined when the IdP has none. */
export async function samlLogoutUrl(
  sp: SamlProvider,
  key: string,
  record: SessionRecord,
  sessions: SessionManager,
): Promise<string | undefined> {
  let idp;
  try {
    idp = sp.idp();
  } catch {
    return undefined;
  }
  if (!idp.sloUrl) return undefined;
  const t = sessions.tokens(key, record);
  if (!t?.name_id) return undefined;
  return sp.saml().getLogoutUrlAsync(
    {
      issuer: sp.config.spEntityId,
      nameID: t.name_id,
      nameIDFormat: t.name_id_format ?? sp.config.nameIdFormat,
      ...(t.session_index ? { sessionIndex: t.session_index } : {}),
    },
    '',
    {},
  );
}
