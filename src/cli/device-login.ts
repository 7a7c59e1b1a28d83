// `gatehouse login --device`: the device flow (RFC 8628) Gatehouse relays from its identity
// provider, for machines without a browser. Resolves undefined when Gatehouse offers none (the
// caller falls back to the loopback sign-in).
import { request } from 'undici';

interface DeviceAnswer {
  readonly device_code: string;
  readonly user_code: string;
  readonly verification_uri: string;
  readonly verification_uri_complete?: string;
  readonly expires_in: number;
  readonly interval?: number;
}

type PostToken = (
  base: string,
  body: Record<string, string>,
) => Promise<{
  access_token: string;
  refresh_token: string;
  expires_in: number;
  user?: string;
}>;

export async function deviceLogin(base: string, postToken: PostToken, say: (line: string) => void) {
  const res = await request(`${base}/.gatehouse/cli/device`, { method: 'POST', headers: { accept: 'application/json' } });
  const text = await res.body.text();
  if (res.statusCode !== 200) return undefined;
  const d = JSON.parse(text) as DeviceAnswer;
  say(`To sign in, open ${d.verification_uri_complete ?? d.verification_uri} and enter the code ${d.user_code}`);
  let interval = Math.max(1, d.interval ?? 5) * 1000;
  const deadline = Date.now() + d.expires_in * 1000;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, interval));
    try {
      return await postToken(base, { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: d.device_code });
    } catch (err) {
      const code = (err as { oauthError?: unknown }).oauthError;
      if (code === 'authorization_pending') continue;
      if (code === 'slow_down') {
        interval += 5000;
        continue;
      }
      throw err;
    }
  }
  throw new Error('the device code expired before the sign-in was approved; run gatehouse login --device again');
}
