// The SAML assertion consumer service (HTTP-POST). Before any parsing: size, DOCTYPE and shape
// limits (node count, attributes, depth — the signature stack is quadratic in nodes). Then which
// sign-in this answers (RelayState, bound to this browser). node-saml verifies the signature (and
// hands back only the signed assertion), the audience and the Conditions times; response-checks.ts
// everything else it leaves to the caller. One use per assertion ID (remembered in the session
// store until the assertion expires), then the attribute mapping and the shared end of a sign-in.
import type { Element } from '@xmldom/xmldom';
import type { SamlProviderConfig } from '../../config/types.ts';
import { GatehouseError } from '../../errors.ts';
import type { Exchange } from '../../http/exchange.ts';
import { readFormBody } from '../../http/body.ts';
import { takePendingLogin, type PendingLogin, type TakeResult } from '../login-state.ts';
import { completeSignIn, type SignInContext } from '../sign-in.ts';
import { mapSamlIdentity, nameIdOf } from './attributes.ts';
import { samlFailureReason } from './failure-reason.ts';
import { samlLibraryReason } from './library-errors.ts';
import type { SamlProvider } from './sp.ts';
import { checkSamlResponse } from './response-checks.ts';
import { checkXmlShape, childElement, describeXmlShapeProblem, hasDoctype, NS, type XmlShapeProblem } from './xml.ts';

const fail = (why: string, cause?: unknown, user?: string) =>
  new GatehouseError('GH_LOGIN_FAILED', `SAML sign-in failed: ${why}.`, {
    cause,
    audit: { reason: samlFailureReason(why), user, subject: user },
  });

/** Too many nodes or attributes is a size limit (413); too deep or not well-formed, a bad response. */
function shapeError(p: XmlShapeProblem, what: string): GatehouseError {
  const why = describeXmlShapeProblem(p);
  return p.kind === 'too-many'
    ? new GatehouseError('GH_PAYLOAD_TOO_LARGE', `The ${what} is larger than this service accepts: ${why}.`)
    : fail(`the ${what} was refused before any signature check: ${why}`);
}

export async function handleSamlAcs(ex: Exchange, sp: SamlProvider, ctx: SignInContext): Promise<void> {
  try {
    await acs(ex, sp, ctx);
  } catch (err) {
    // The audit record of a refused sign-in names the IdP it was with.
    if (!(err instanceof GatehouseError) || err.code !== 'GH_LOGIN_FAILED') throw err;
    throw new GatehouseError(err.code, err.message, { cause: err.cause, audit: { ...err.audit, idp: sp.config.id } });
  }
}

async function acs(ex: Exchange, sp: SamlProvider, ctx: SignInContext): Promise<void> {
  if (ex.req.method !== 'POST') throw new GatehouseError('GH_METHOD_NOT_ALLOWED', 'The assertion consumer service accepts POST only.');
  const c = sp.config;
  const { samlResponse, xml, relayState } = await readSamlPost(ex, c);
  const { taken, pending } = await pendingSignIn(ex, ctx, c.id, relayState);
  const assertionXml = await verifiedAssertion(sp, samlResponse);
  const checked = checkSamlResponse({
    responseXml: xml,
    assertionXml,
    expected: {
      issuer: c.idpIssuer ?? sp.idp().entityId,
      acsUrl: sp.acsUrl,
      pending,
      allowIdpInitiated: c.allowIdpInitiated,
      nowMs: Date.now(),
      clockSkewMs: c.clockSkewMs,
    },
  });
  if (!checked.ok) throw fail(checked.reason);
  const { assertion, assertionId, rememberMs, spInitiated } = checked.facts;
  if (!(await ctx.sessions.replay.once('saml-assertion', c.id, assertionId, rememberMs)))
    throw fail('this assertion was already used (replay)', undefined, nameIdOf(assertion).value);
  const signedIn = samlSignIn(assertion, c);
  await completeSignIn(ex, ctx, {
    ...signedIn,
    idp: c.id,
    method: 'saml',
    returnUrl: pending?.returnUrl ?? '/',
    // 303: the browser arrived with a POST and must continue with a GET.
    status: 303,
    clearLoginCookie: taken?.ok === true && !taken.othersPending,
    reason: spInitiated ? 'sp_initiated' : 'idp_initiated',
  });
}

/** The posted SAMLResponse and RelayState, after the size, DOCTYPE and shape limits. */
async function readSamlPost(
  ex: Exchange,
  c: SamlProviderConfig,
): Promise<{ samlResponse: string; xml: string; relayState: string | null }> {
  // base64 and form encoding make the POST about 1.4x the XML.
  const form = await readFormBody(ex.req, Math.ceil(c.maxResponseBytes * 1.5) + 4096);
  const samlResponse = form.get('SAMLResponse');
  if (!samlResponse) throw fail('the request carries no SAMLResponse');
  const xml = Buffer.from(samlResponse, 'base64').toString('utf8');
  if (xml.length > c.maxResponseBytes)
    throw new GatehouseError('GH_PAYLOAD_TOO_LARGE', 'The SAML response is larger than this service accepts.');
  if (hasDoctype(xml)) throw fail('the response contains a DOCTYPE, which SAML never needs');
  const shape = checkXmlShape(xml);
  if (shape) throw shapeError(shape, 'SAML response');
  return { samlResponse, xml, relayState: form.get('RelayState') };
}

/** Which sign-in this is the answer to: RelayState names it, and only this browser may finish it. */
async function pendingSignIn(
  ex: Exchange,
  ctx: SignInContext,
  idp: string,
  relayState: string | null,
): Promise<{ taken: TakeResult | undefined; pending: PendingLogin | undefined }> {
  const taken = relayState
    ? await takePendingLogin(ctx.sessions.pendingLogins, relayState, ctx.loginCookie.read(ex.req.headers.cookie))
    : undefined;
  if (taken && !taken.ok && taken.reason === 'other-browser') throw fail('this sign-in was started in another browser');
  const pending = taken?.ok ? taken.login : undefined;
  if (pending && pending.idp !== idp) throw fail('the answer came back to the wrong identity provider');
  return { taken, pending };
}

/** node-saml's verdict: the signed assertion's XML. Its own error text stays in `cause`. */
async function verifiedAssertion(sp: SamlProvider, samlResponse: string): Promise<string> {
  let profile;
  try {
    ({ profile } = await sp.saml().validatePostResponseAsync({ SAMLResponse: samlResponse }));
  } catch (err) {
    // Ours (the IdP's metadata is not known yet): our words; node-saml's: in our words.
    throw fail(err instanceof GatehouseError ? err.message : samlLibraryReason(err), err);
  }
  if (!profile?.getAssertionXml) throw fail('the response has no assertion');
  return profile.getAssertionXml();
}

/** The user, and what single logout needs later (NameID, SessionIndex), from the checked assertion. */
function samlSignIn(assertion: Element, c: SamlProviderConfig) {
  const nameId = nameIdOf(assertion);
  const identity = mapSamlIdentity(assertion, c.attributes, nameId.value, {
    userAttributeRequired: c.userAttributeRequired,
    splitGroupValuesOn: c.splitGroupValuesOn,
  });
  if (!identity.user) {
    throw fail(
      c.userAttributeRequired ? `the required attribute ${c.attributes.user[0]} is missing` : 'the assertion names no user (no NameID)',
      undefined,
      nameId.value,
    );
  }
  const sessionIndex = childElement(assertion, NS.saml, 'AuthnStatement')?.getAttribute('SessionIndex') || undefined;
  return {
    identity: { ...identity, user: identity.user },
    subject: nameId.value,
    idpSession: sessionIndex,
    tokens: {
      ...(nameId.value ? { name_id: nameId.value } : {}),
      ...(nameId.format ? { name_id_format: nameId.format } : {}),
      ...(sessionIndex ? { session_index: sessionIndex } : {}),
    },
  };
}
