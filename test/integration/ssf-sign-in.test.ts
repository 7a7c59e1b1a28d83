// Issue 19, Shared Signals with real sign-ins at the demo IdP (oidc-provider): a RISC
// account-disabled SET ends the user's session and refuses their next sign-in until an
// account-enabled SET arrives; an iss_sub subject is mapped through the identity provider whose
// issuer it names.
import { describe, expect, it } from 'vitest';
import { TestBrowser } from '../support/browser-http.ts';
import { getJson } from '../support/http.ts';
import { startOidcSetup, USERS } from '../support/oidc.ts';
import { ACCOUNT_DISABLED, ACCOUNT_ENABLED, pushSet, SESSION_REVOKED, startTransmitter } from '../support/ssf-transmitter.ts';
import type { StartedGatehouse } from '../support/start-gatehouse.ts';
import { startUpstream } from '../support/upstream.ts';

const ALICE = 'alice@example.com';

/** A fresh browser (so a fresh IdP session) signs in as alice; the page it lands on and its cookie. */
async function signIn(gh: StartedGatehouse): Promise<{ status: number; body: string; cookie: string | undefined }> {
  const browser = new TestBrowser();
  const page = await browser.go(`${gh.url}/`, USERS.alice);
  return { status: page.status, body: page.body, cookie: browser.jar.get(gh.url, 'gatehouse') };
}

const apiStatus = async (gh: StartedGatehouse, cookie: string) => (await getJson(`${gh.url}/x`, { cookie: `gatehouse=${cookie}` })).status;

describe('Shared Signals and sign-in (issue 19)', () => {
  it('account-disabled ends the session and refuses the next sign-in; account-enabled lets it in again', async () => {
    const [up, tx] = await Promise.all([startUpstream(), startTransmitter()]);
    const { gh } = await startOidcSetup(up.url, { extra: () => ({ ssf: { transmitters: [tx.entry()] } }) });
    const first = await signIn(gh);
    expect(first.status).toBe(200);
    expect(await apiStatus(gh, first.cookie!)).toBe(200);

    expect((await pushSet(gh.url, await tx.event(ACCOUNT_DISABLED, ALICE))).status).toBe(202);
    expect(await apiStatus(gh, first.cookie!)).toBe(401);
    const refused = await signIn(gh);
    expect(refused.status).toBe(403);
    expect(refused.body).toContain('Your account has been deactivated');
    expect(await gh.current().sessions.list(ALICE)).toEqual([]);

    expect((await pushSet(gh.url, await tx.event(ACCOUNT_ENABLED, ALICE))).status).toBe(202);
    const again = await signIn(gh);
    expect(again.status).toBe(200);
    expect(await apiStatus(gh, again.cookie!)).toBe(200);
  });

  it('an iss_sub subject ends the sessions of that subject at the identity provider with that issuer', async () => {
    const [up, tx] = await Promise.all([startUpstream(), startTransmitter()]);
    const { gh, idp } = await startOidcSetup(up.url, { extra: () => ({ ssf: { transmitters: [tx.entry({ subject: 'iss_sub' })] } }) });
    const s = await signIn(gh);
    expect(s.status).toBe(200);
    const [listed] = await gh.current().sessions.list(ALICE);
    const sub = listed!.record.subject!;
    expect(sub).toMatch(/\S/);

    const elsewhere = await tx.sign({
      sub_id: { format: 'iss_sub', iss: 'https://other-idp.test', sub },
      events: { [SESSION_REVOKED]: {} },
    });
    const unknownIdp = await pushSet(gh.url, elsewhere);
    expect([unknownIdp.status, unknownIdp.body.err]).toEqual([400, 'invalid_request']);
    expect(await apiStatus(gh, s.cookie!)).toBe(200);

    const set = await tx.sign({ sub_id: { format: 'iss_sub', iss: idp.issuer, sub }, events: { [SESSION_REVOKED]: {} } });
    expect((await pushSet(gh.url, set)).status).toBe(202);
    expect(await apiStatus(gh, s.cookie!)).toBe(401);
  });
});
