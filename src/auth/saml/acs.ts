// The SAML assertion consumer service (HTTP-POST). Before any parsing: size, DOCTYPE and shape
// limits (node count, attributes, depth — the signature stack is quadratic in nodes). node-saml
// verifies the signature (and hands back only the signed assertion), the audience and the
// Conditions times. Here, on the signed assertion: the issuer, the one bearer SubjectConfirmation
// (Recipient = our ACS URL, its own NotOnOrAfter/NotBefore — confirmation.ts), InResponseTo from
// that confirmation only, bound to this browser's pending sign-in (or an explicit opt-in to
// IdP-initiated sign-in); on the Response: Destination, a Success status, and no InResponseTo
// that differs from the signed one. One use per assertion ID (remembered in the session store
// until the assertion expires), then the attribute mapping.
import { GatehouseError } from '../../errors.ts';
import type { SessionManager } from '../../session/manager.ts';
import type { Exchange } from '../../http/exchange.ts';
import { readFormBody } from '../../http/body.ts';
import { sendRedirect } from '../../http/respond.ts';
import { takePendingLogin, type LoginCookie } from '../login-state.ts';
import type { ReturnUrlCheck } from '../return-url.ts';
import { mapSamlIdentity, nameIdOf } from './attributes.ts';
import { bearerConfirmation } from './confirmation.ts';
import type { SamlProvider } from './provider.ts';
import { checkXmlShape, childElement, childElements, describeXmlShapeProblem, hasDoctype, NS, parseXml, text, type XmlShapeProblem } from './xml.ts';

export interface AcsDeps {
  readonly sessions: SessionManager;
  readonly loginCookie: LoginCookie;
  readonly checkReturnUrl: ReturnUrlCheck;
}

const SUCCESS = 'urn:oasis:names:tc:SAML:2.0:status:Success';

const fail = (why: string, cause?: unknown) => new GatehouseError('GH_LOGIN_FAILED', `SAML sign-in failed: ${why}.`, { cause });

/** Too many nodes or attributes is a size limit (413); too deep or not well-formed, a bad response. */
function shapeError(p: XmlShapeProblem, what: string): GatehouseError {
  const why = describeXmlShapeProblem(p);
  return p.kind === 'too-many'
    ? new GatehouseError('GH_PAYLOAD_TOO_LARGE', `The ${what} is larger than this service accepts: ${why}.`)
    : fail(`the ${what} was refused before any signature check: ${why}`);
}

const show = (v: string) => JSON.stringify(v.length > 120 ? `${v.slice(0, 120)}…` : v);

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
  const shape = checkXmlShape(xml);
  if (shape) throw shapeError(shape, 'SAML response');

  // Which sign-in is this the answer to? RelayState names it, and only this browser may finish it.
  const relayState = form.get('RelayState');
  const taken = relayState ? await takePendingLogin(deps.sessions.pendingLogins, relayState, deps.loginCookie.read(ex.req.headers.cookie)) : undefined;
  if (taken && !taken.ok && taken.reason === 'other-browser') throw fail('this sign-in was started in another browser');
  const pending = taken?.ok ? taken.login : undefined;
  if (pending && pending.idp !== c.id) throw fail('the answer came back to the wrong identity provider');

  let profile;
  try {
    ({ profile } = await sp.saml().validatePostResponseAsync({ SAMLResponse: samlResponse }));
  } catch (err) {
    throw fail((err as Error).message, err);
  }
  if (!profile?.getAssertionXml) throw fail('the response has no assertion');
  const assertion = parseXml(profile.getAssertionXml()).documentElement!;
  const response = parseXml(xml).documentElement!;

  // The issuer: node-saml checks it only on logout messages. The signed assertion must name the
  // IdP we trust (configured idp_issuer, else the metadata's entityID), and so must the Response.
  const expectedIssuer = c.idpIssuer ?? sp.idp().entityId;
  const assertionIssuer = text(childElement(assertion, NS.saml, 'Issuer'));
  if (expectedIssuer !== undefined && assertionIssuer !== expectedIssuer) throw fail(`wrong issuer: the assertion was issued by ${assertionIssuer ?? 'nobody'}, not by ${expectedIssuer}`);
  const responseIssuer = Array.from(response.childNodes).find((n) => n.nodeType === 1 && (n as unknown as { localName: string }).localName === 'Issuer')?.textContent?.trim();
  if (expectedIssuer !== undefined && responseIssuer !== undefined && responseIssuer !== expectedIssuer) throw fail(`wrong issuer: the response was issued by ${responseIssuer}, not by ${expectedIssuer}`);

  // node-saml reads the status only when there is no assertion: a failure status next to a signed
  // assertion (an IdP answering "denied" while attaching one) must not sign anyone in.
  const statuses = childElements(response, NS.samlp, 'Status');
  const codes = statuses.length === 1 ? childElements(statuses[0]!, NS.samlp, 'StatusCode') : [];
  if (codes.length !== 1) throw fail('the response has no single top-level status code');
  const status = codes[0]!.getAttribute('Value') ?? '';
  if (status !== SUCCESS) throw fail(`the identity provider's status is ${show(status)}, not Success`);

  // Destination: on the Response (possibly unsigned), so it can only refuse.
  if (response.hasAttribute('Destination') && response.getAttribute('Destination') !== sp.acsUrl) {
    throw fail(`the response is addressed to ${show(response.getAttribute('Destination') ?? '')}, not to this service`);
  }
  const checked = bearerConfirmation(assertion, sp.acsUrl, Date.now(), c.clockSkewMs);
  if (!checked.ok) throw fail(checked.why);
  const confirmation = checked.confirmation;

  // InResponseTo comes from the signed bearer confirmation only. The Response's own copy may be
  // unsigned: it may repeat the signed value, nothing else (SAML profiles §4.1.4.2–3).
  const signedIrt = confirmation.inResponseTo;
  if (signedIrt === '') throw fail('the assertion\'s InResponseTo is empty');
  if (response.hasAttribute('InResponseTo') && response.getAttribute('InResponseTo') !== signedIrt) {
    throw fail(signedIrt === undefined ? 'the Response names an InResponseTo, the signed assertion none' : 'the Response\'s InResponseTo differs from the signed assertion\'s');
  }
  if (pending) {
    if (signedIrt === undefined) throw fail('the signed assertion has no InResponseTo for the sign-in this browser started');
    if (signedIrt !== pending.requestId) throw fail('InResponseTo does not match the sign-in this browser started');
  } else if (signedIrt !== undefined) {
    throw fail('the response answers a sign-in that is unknown, expired or already used');
  } else if (!c.allowIdpInitiated) {
    throw fail('unsolicited (IdP-initiated) responses are not accepted here');
  }

  // One use per assertion, remembered until it expires.
  const assertionId = assertion.getAttribute('ID');
  if (!assertionId) throw fail('the assertion has no ID');
  const rememberMs = Math.min(Math.max(confirmation.notOnOrAfter - Date.now() + c.clockSkewMs, 60_000), 86_400_000);
  if (!(await deps.sessions.replay.once('saml-assertion', c.id, assertionId, rememberMs))) throw fail('this assertion was already used (replay)');

  const nameId = nameIdOf(assertion);
  const identity = mapSamlIdentity(assertion, c.attributes, nameId.value, { userAttributeRequired: c.userAttributeRequired, splitGroupValuesOn: c.splitGroupValuesOn });
  if (!identity.user) {
    throw fail(c.userAttributeRequired ? `the required attribute ${c.attributes.user[0]} is missing` : 'the assertion names no user (no NameID)');
  }
  const authn = childElement(assertion, NS.saml, 'AuthnStatement');
  const sessionIndex = authn?.getAttribute('SessionIndex') || undefined;
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
  // The pending sign-in is over: its binding cookie has nothing left to bind — unless sign-ins
  // started in other tabs of this browser still wait for it.
  if (taken?.ok && !taken.othersPending) ex.setCookies.push(deps.loginCookie.clear());
  ex.identity = session.record;
  ex.session = { key: session.key, record: session.record };
  ex.event({ action: 'login_succeeded', outcome: 'success', idp: c.id, session: session.key, reason: pending ? 'sp_initiated' : 'idp_initiated' });
  // 303: the browser arrived with a POST and must continue with a GET.
  sendRedirect(ex, 303, deps.checkReturnUrl(pending?.rd ?? '/'));
}
