// A real SDK-shaped HTTP client from npm through Gatehouse with a personal access token (issue 16:
// "a Python-free check that a real SDK-shaped client works"). typed-rest-client is Microsoft's REST
// client behind the Azure DevOps Node SDK: auth is pluggable request handlers, the way SDKs take
// credentials. MLflow-style, its own BearerCredentialHandler sends the PAT as
// `Authorization: Bearer`; Label-Studio-style, a handler puts the PAT in Proxy-Authorization while
// the tool's own `Authorization: Token …` rides along — and the spy upstream sees only the tool's.
import { RestClient } from 'typed-rest-client/RestClient.js';
import { BearerCredentialHandler } from 'typed-rest-client/handlers/bearertoken.js';
import type { IHttpClientResponse, IRequestHandler } from 'typed-rest-client/Interfaces.js';
import type { RequestOptions } from 'node:http';
import { describe, expect, it } from 'vitest';
import { baseConfig, startTestGatehouse } from '../support/start-gatehouse.ts';
import { startSpyUpstream } from '../support/spy-upstream.ts';

/** How a user plugs Gatehouse into such an SDK: one handler, the SDK's own auth untouched. */
class GatehouseProxyAuthorization implements IRequestHandler {
  readonly #token: string;
  constructor(token: string) {
    this.#token = token;
  }
  prepareRequest(options: RequestOptions): void {
    (options.headers as Record<string, string>)['Proxy-Authorization'] = `Bearer ${this.#token}`;
  }
  canHandleAuthentication(_response: IHttpClientResponse): boolean {
    return false;
  }
  handleAuthentication(): Promise<IHttpClientResponse> {
    throw new Error('not used');
  }
}

describe('typed-rest-client (npm) through Gatehouse with a personal access token', () => {
  it('Authorization: Bearer <PAT> and Proxy-Authorization + the tool token both reach the upstream as the user', async () => {
    const spy = await startSpyUpstream({
      respond: (r) => ({
        status: 200,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ path: r.target, user: r.header('x-forwarded-user') ?? null }),
      }),
    });
    const gh = await startTestGatehouse({
      ...baseConfig(),
      session: { store: 'memory', cookie: { secure: false } },
      routes: [
        { name: 'mlflow', path: '/mlflow', upstream: spy.url, allow: { groups: ['ml-engineers'] } },
        { name: 'label-studio', path: '/label-studio', upstream: spy.url, allow: { groups: ['labelers'] } },
      ],
    });
    const owner = { user: 'carol@corp.example', email: 'carol@corp.example', groups: ['ml-engineers', 'labelers'], idp: 'corp' };
    const { token } = await gh.current().pats.create({ owner, name: 'sdk job', routes: ['mlflow', 'label-studio'], by: 'user' });

    // MLflow-style: MLFLOW_TRACKING_TOKEN is sent as Authorization: Bearer.
    const mlflow = new RestClient('mlflow-like-sdk/1.0', gh.url, [new BearerCredentialHandler(token)]);
    const runs = await mlflow.get<{ path: string; user: string }>('/mlflow/api/2.0/mlflow/runs/search');
    expect(runs.statusCode).toBe(200);
    expect(runs.result).toEqual({ path: '/mlflow/api/2.0/mlflow/runs/search', user: 'carol@corp.example' });
    const mlSeen = spy.requests().find((r) => r.target === '/mlflow/api/2.0/mlflow/runs/search');
    expect(mlSeen?.header('user-agent')).toContain('mlflow-like-sdk/1.0');
    expect(mlSeen?.headerAll('authorization')).toEqual([]);

    // Label-Studio-style: the tool's API key stays in Authorization, Gatehouse's in Proxy-Authorization.
    const ls = new RestClient('label-studio-like-sdk/1.0', gh.url, [new GatehouseProxyAuthorization(token)], {
      headers: { Authorization: 'Token ls-api-key-0123' },
    });
    const created = await ls.create<{ path: string; user: string }>('/label-studio/api/projects', { title: 'cats' });
    expect(created.statusCode).toBe(200);
    expect(created.result?.user).toBe('carol@corp.example');
    const lsSeen = spy.requests().find((r) => r.target === '/label-studio/api/projects');
    expect(lsSeen?.method).toBe('POST');
    expect(lsSeen?.headerAll('authorization')).toEqual(['Token ls-api-key-0123']);
    expect(lsSeen?.headerAll('proxy-authorization')).toEqual([]);
    expect(JSON.parse(lsSeen?.body.toString() ?? '{}')).toEqual({ title: 'cats' });
    for (const r of spy.requests()) expect(r.raw.toString('latin1').includes(token)).toBe(false);

    // The SDK sees Gatehouse's refusal as its own error: a revoked token is a 401 with JSON.
    await gh.current().pats.revokeUser(owner.user);
    await expect(mlflow.get('/mlflow/api/2.0/mlflow/runs/search')).rejects.toMatchObject({ statusCode: 401 });
  });
});
