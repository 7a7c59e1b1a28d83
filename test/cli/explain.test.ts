import { describe, expect, it } from 'vitest';
import { explain } from '../../src/cli/explain.ts';
import { compileConfig } from '../../src/config/compile.ts';

const { config } = compileConfig({
  server: { public_url: 'https://mlflow.corp.example' },
  identity_providers: [{ id: 'corp', type: 'oidc', issuer: 'https://idp.corp.example', client_id: 'c', client_secret: 's' }],
  routes: [
    {
      name: 'mlflow',
      host: 'mlflow.corp.example',
      upstream: 'http://127.0.0.1:5000',
      allow: { groups: ['ml-engineers'] },
      rules: [
        { path: '/health', public: true },
        { path: '/api/2.0/mlflow/registered-models/delete', methods: ['POST', 'DELETE'], allow: { groups: ['ml-admins'] } },
      ],
    },
  ],
});

describe('check-config --explain', () => {
  it('names the route, the deciding rule, the outcome and the reason', () => {
    const out = explain(config, [
      'user=bob',
      'groups=ml-engineers',
      'POST',
      'https://mlflow.corp.example/api/2.0/mlflow/registered-models/delete',
    ]).join('\n');
    expect(out).toContain('route:    mlflow');
    expect(out).toContain('rules[1]');
    expect(out).toContain('DENY (403)');
    expect(out).toContain('groups-unauthorized');
    expect(out).toContain('ml-admins');
  });

  it('explains allow, sign-in required, public rules, bad paths and no route', () => {
    expect(
      explain(config, [
        'user=alice',
        'groups=ml-admins',
        'DELETE',
        'https://mlflow.corp.example/api/2.0/mlflow/registered-models/delete',
      ]).join('\n'),
    ).toContain('ALLOW — reason groups-ok');
    expect(explain(config, ['GET', 'https://mlflow.corp.example/runs']).join('\n')).toContain('SIGN-IN REQUIRED');
    expect(explain(config, ['GET', 'https://mlflow.corp.example/health']).join('\n')).toContain('reason public-route');
    expect(explain(config, ['GET', 'https://mlflow.corp.example/a%2Fb']).join('\n')).toContain('400 GH_BAD_PATH');
    expect(explain(config, ['GET', 'https://other.example/']).join('\n')).toContain('404 GH_NO_ROUTE');
    expect(explain(config, []).join('\n')).toContain('usage:');
  });
});
