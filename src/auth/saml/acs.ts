// The SAML assertion consumer service (HTTP-POST). node-saml has verified the signature (and uses
// only the signed assertion), audience and validity times; here: size and DOCTYPE limits, the issuer,
// before any parsing, InResponseTo against this browser's pending sign-in (or an explicit opt-in
// to IdP-initiated sign-in), Destination and Recipient = our ACS URL, one use per assertion ID
// (remembered in the session store until the assertion expires), and the attribute mapping.
import { GatehouseError } from '../../errors.ts';
import type { SessionManager } from '../../session/manager.ts';
import type { Exchange } from '../../server/exchange.ts';
import { readFormBody } from '../../server/body.ts';
import { sendRedirect } from '../../server/respond.ts';
import { takePendingLogin, type LoginCookie, type PendingLogin } from '../login-state.ts';
import type { ReturnUrlCheck } from '../return-url.ts';
import { mapSamlIdentity, nameIdOf } from './attributes.ts';
import type { SamlProvider } from './provider.ts';
import { first, hasDoctype, NS, parseXml } from './xml.ts';

export interface AcsDeps {
  readonly sessions: SessionManager;
  readonly loginCookie: LoginCookie;
  readonly checkReturnUrl: ReturnUrlCheck;
}

const fail = (why: string, cause?: unknown) => new GatehouseError('GH_LOGIN_FAILED', `SAML sign-in failed: ${why}.`, { cause });

export async function handleSamlAcs(ex: Exchange, sp: SamlProvider, deps: AcsDeps): Promise<void> {
  if (ex.req.method !== 'POST') throw new GatehouseError('GH_METHOD_NOT_ALLOWED', 'The assertion consumer service accepts POST only.');
  const c = sp.config;
  // base64 and form encoding make the POST about 1.4x the XML.
  const form = await readFormBody(ex.req, Math.ceil(c.maxResponseBytes * 1.5) + 4096);
  const samlResponse = form.get('SAMLResponse');
  if (!samlResponse) throw fail('the request carries no SAMLResponse');
  const xml = Buffer.from(samlResponse, 'base64').toString('utf8');
  if (xml.length > c.maxResponseBytes) throw new GatehouseError('GH_PAYLOAD_TOO_LARGE', 'The SAML response is larger than this service accepts.');
  if (hasDoctype(xml)) throw fail('the response contains a DOCTYPE, which SAML never needs');

  // Which sign-in is this the answer to? RelayState names it, and only this browser may finish it.
  let pending: PendingLogin | undefined;
  const relayState = form.get('RelayState');
  if (relayState) {
    const taken = await takePendingLogin(deps.sessions.store, relayState, deps.loginCookie.read(ex.req.headers.cookie));
    if (taken.ok) pending = taken.login;
    else if (taken.reason === 'other-browser') throw fail('this sign-in was started in another browser');
  }
  if (pending && pending.idp !== c.id) throw fail('the answer came back to the wrong identity provider');

  let profile;
  try {
    ({ profile } = await sp.saml().validatePostResponseAsync({ SAMLResponse: samlResponse }));
  } catch (err) {
    throw fail((err as Error).message, err);
  }
  if (!profile?.getAssertionXml) throw fail('the response has no assertion');
  const assertion = parseXml(profile.getAssertionXml()).documentElement!;

  // The issuer: node-saml checks it only on logout messages. The signed assertion must name the
  // IdP we trust (configured idp_issuer, else the metadata's entityID), and so must the Response.
  const expectedIssuer = c.idpIssuer ?? sp.idp().entityId;
  const assertionIssuer = first(assertion, NS.saml, 'Issuer')?.textContent?.trim();
  if (expectedIssuer !== undefined && assertionIssuer !== expectedIssuer) throw fail(`wrong issuer: the assertion was issued by ${assertionIssuer ?? 'nobody'}, not by ${expectedIssuer}`);

  // Destination (on the Response, may be unsigned) and Recipient (in the signed assertion).
  const response = parseXml(xml).documentElement!;
  const responseIssuer = Array.from(response.childNodes).find((n) => n.nodeType === 1 && (n as unknown as { localName: string }).localName === 'Issuer')?.textContent?.trim();
  if (expectedIssuer !== undefined && responseIssuer !== undefined && responseIssuer !== expectedIssuer) throw fail(`wrong issuer: the response was issued by ${responseIssuer}, not by ${expectedIssuer}`);
  const destination = response.getAttribute('Destination');
  if (destination && destination !== sp.acsUrl) throw fail(`the response is addressed to ${destination}, not to this service`);
  const confirmation = first(assertion, NS.saml, 'SubjectConfirmationData');
  const recipient = confirmation?.getAttribute('Recipient');
  if (recipient && recipient !== sp.acsUrl) throw fail(`the assertion is for ${recipient}, not for this service`);
  const inResponseTo = confirmation?.getAttribute('InResponseTo') || response.getAttribute('InResponseTo') || undefined;
  if (pending) {
    if (inResponseTo !== pending.requestId) throw fail('InResponseTo does not match the sign-in this browser started');
  } else if (inResponseTo) {
    throw fail('the response answers a sign-in that is unknown, expired or already used');
  } else if (!c.allowIdpInitiated) {
    throw fail('unsolicited (IdP-initiated) responses are not accepted here');
  }

  // One use per assertion, remembered until it expires.
  const assertionId = assertion.getAttribute('ID');
  if (!assertionId) throw fail('the assertion has no ID');
  const notOnOrAfter = Date.parse(confirmation?.getAttribute('NotOnOrAfter') ?? first(assertion, NS.saml, 'Conditions')?.getAttribute('NotOnOrAfter') ?? '');
  const rememberMs = Math.min(Math.max(Number.isNaN(notOnOrAfter) ? 3_600_000 : notOnOrAfter - Date.now() + c.clockSkewMs, 60_000), 86_400_000);
  if (!(await deps.sessions.store.putOnce(`saml:${c.id}:${assertionId}`, rememberMs))) throw fail('this assertion was already used (replay)');

  const nameId = nameIdOf(assertion);
  const identity = mapSamlIdentity(assertion, c.attributes, nameId.value, c.userAttributeRequired);
  if (!identity.user) {
    throw fail(c.userAttributeRequired ? `the required attribute ${c.attributes.user[0]} is missing` : 'the assertion names no user (no NameID)');
  }
  const authn = first(assertion, NS.saml, 'AuthnStatement');
  const sessionIndex = authn?.getAttribute('SessionIndex') ?? undefined;
  const session = await deps.sessions.create({
    user: identity.user,
    email: identity.email,
    name: identity.name,
    groups: identity.groups,
    idp: c.id,
    method: 'saml',
    subject: nameId.value,
    idpSession: sessionIndex,
    tokens: {
      ...(nameId.value ? { name_id: nameId.value } : {}),
      ...(nameId.format ? { name_id_format: nameId.format } : {}),
      ...(sessionIndex ? { session_index: sessionIndex } : {}),
    },
  });
  (ex.setCookies ??= []).push(deps.sessions.cookie.serialize(session.cookieValue, deps.sessions.absoluteMs));
  ex.identity = session.record;
  ex.session = { key: session.key, record: session.record };
  ex.event({ action: 'login_succeeded', outcome: 'success', idp: c.id, session: session.key, reason: pending ? 'sp_initiated' : 'idp_initiated' });
  // 303: the browser arrived with a POST and must continue with a GET.
  sendRedirect(ex, 303, deps.checkReturnUrl(pending?.rd ?? '/'));
}
