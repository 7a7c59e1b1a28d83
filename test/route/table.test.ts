import { describe, expect, it } from 'vitest';
import { compileConfig } from '../../src/config/compile.ts';
import type { RouteConfig } from '../../src/config/types.ts';
import { policyPath } from '../../src/route/canonical.ts';
import { parseHost } from '../../src/route/host.ts';
import { createRouteTable, type RouteTable } from '../../src/route/table.ts';

interface RawRouteSpec {
  name: string;
  host?: string;
  path?: string;
  case_insensitive_paths?: boolean;
}

/** Compile routes through the real config pipeline, so the table sees exactly what production sees. */
function compileRoutes(specs: readonly RawRouteSpec[]): readonly RouteConfig[] {
  const raw = {
    server: { public_url: 'http://127.0.0.1:4180' },
    routes: specs.map((s) => ({ ...s, upstream: 'http://127.0.0.1:5000', allow: { public: true } })),
  };
  return compileConfig(raw).config.routes;
}

function table(specs: readonly RawRouteSpec[]): RouteTable {
  return createRouteTable(compileRoutes(specs));
}

/** Name of the matching route for a normalised path (canonicalised as the pipeline does), or undefined. */
function pick(t: RouteTable, host: string, path: string): string | undefined {
  return t.match(host, policyPath(path))?.name;
}

describe('createRouteTable: host precedence', () => {
  const t = table([
    { name: 'any', path: '/' },
    { name: 'wild', host: '*.corp.example', path: '/' },
    { name: 'exact', host: 'mlflow.corp.example', path: '/' },
  ]);

  it.each([
    ['mlflow.corp.example', 'exact'],
    ['other.corp.example', 'wild'],
    ['a.b.corp.example', 'wild'],
    ['corp.example', 'any'],
    ['xcorp.example', 'any'],
    ['elsewhere.example', 'any'],
    ['', 'any'],
  ] as const)('host %j → %s', (host, name) => {
    expect(pick(t, host, '/x')).toBe(name);
  });

  it('is independent of the order routes are declared in', () => {
    const reversed = table([
      { name: 'exact', host: 'mlflow.corp.example', path: '/' },
      { name: 'wild', host: '*.corp.example', path: '/' },
      { name: 'any', path: '/' },
    ]);
    for (const host of ['mlflow.corp.example', 'other.corp.example', 'corp.example']) {
      expect(pick(reversed, host, '/x')).toBe(pick(t, host, '/x'));
    }
  });

  it('lower-cases configured hosts (the table expects a lower-case host)', () => {
    const t2 = table([{ name: 'exact', host: 'MLflow.Corp.Example' }]);
    expect(pick(t2, 'mlflow.corp.example', '/')).toBe('exact');
  });
});

describe('createRouteTable: wildcards', () => {
  it('"*.corp.example" does not match "corp.example" itself', () => {
    const t = table([{ name: 'wild', host: '*.corp.example' }]);
    expect(pick(t, 'corp.example', '/')).toBeUndefined();
    expect(pick(t, 'a.corp.example', '/')).toBe('wild');
  });

  it('does not match on a partial label ("evilcorp.example")', () => {
    const t = table([{ name: 'wild', host: '*.corp.example' }]);
    expect(pick(t, 'evilcorp.example', '/')).toBeUndefined();
    expect(pick(t, 'a.corp.example.evil', '/')).toBeUndefined();
  });

  it('the longer wildcard suffix wins, whatever the declaration order', () => {
    for (const specs of [
      [
        { name: 'short', host: '*.corp.example' },
        { name: 'long', host: '*.ml.corp.example' },
      ],
      [
        { name: 'long', host: '*.ml.corp.example' },
        { name: 'short', host: '*.corp.example' },
      ],
    ]) {
      const t = table(specs);
      expect(pick(t, 'x.ml.corp.example', '/')).toBe('long');
      expect(pick(t, 'ml.corp.example', '/')).toBe('short');
      expect(pick(t, 'x.corp.example', '/')).toBe('short');
    }
  });

  it('falls back from the longer wildcard to the shorter one when no path matches', () => {
    const t = table([
      { name: 'short', host: '*.corp.example', path: '/' },
      { name: 'long-api', host: '*.ml.corp.example', path: '/api' },
    ]);
    expect(pick(t, 'x.ml.corp.example', '/api/v1')).toBe('long-api');
    expect(pick(t, 'x.ml.corp.example', '/ui')).toBe('short');
  });
});

describe('createRouteTable: path prefixes', () => {
  const t = table([
    { name: 'root', path: '/' },
    { name: 'api', path: '/api' },
    { name: 'api-v2', path: '/api/v2' },
  ]);

  it.each([
    ['/', 'root'],
    ['/api', 'api'],
    ['/api/', 'api'],
    ['/api/x', 'api'],
    ['/api/v1/x', 'api'],
    ['/api/v2', 'api-v2'],
    ['/api/v2/models', 'api-v2'],
    ['/api/v2x', 'api'],
    ['/apix', 'root'],
    ['/API', 'api'],
    ['/Api/V2/x', 'api-v2'],
    ['/api;x=1', 'api'],
    ['/api./v2', 'api-v2'],
    ['/api%20/v2', 'api-v2'],
    ['/other', 'root'],
  ] as const)('%s → %s (longest whole-segment prefix)', (path, name) => {
    expect(pick(t, 'any.example', path)).toBe(name);
  });

  it('a case-sensitive route (case_insensitive_paths: false) matches only its own spelling', () => {
    const cs = table([
      { name: 'root', path: '/' },
      { name: 'admin', path: '/radmin', case_insensitive_paths: false },
    ]);
    expect(pick(cs, 'h', '/radmin/x')).toBe('admin');
    expect(pick(cs, 'h', '/RADMIN/x')).toBe('root');
    expect(pick(cs, 'h', '/radmin;x/y')).toBe('admin');
  });

  it('"/api" matches /api and /api/x but never /apix', () => {
    const only = table([{ name: 'api', path: '/api' }]);
    expect(pick(only, 'h', '/api')).toBe('api');
    expect(pick(only, 'h', '/api/x')).toBe('api');
    expect(pick(only, 'h', '/apix')).toBeUndefined();
    expect(pick(only, 'h', '/ap')).toBeUndefined();
    expect(pick(only, 'h', '/')).toBeUndefined();
  });

  it('a configured trailing slash is dropped, so "/api/" behaves like "/api"', () => {
    const routes = compileRoutes([{ name: 'api', path: '/api/' }]);
    expect(routes[0]!.path).toBe('/api');
    const t2 = createRouteTable(routes);
    expect(pick(t2, 'h', '/api')).toBe('api');
    expect(pick(t2, 'h', '/apix')).toBeUndefined();
  });

  it('prefers the longer prefix regardless of declaration order', () => {
    const t2 = table([
      { name: 'api-v2', path: '/api/v2' },
      { name: 'root', path: '/' },
      { name: 'api', path: '/api' },
    ]);
    expect(pick(t2, 'h', '/api/v2/x')).toBe('api-v2');
    expect(pick(t2, 'h', '/api/v1')).toBe('api');
    expect(pick(t2, 'h', '/x')).toBe('root');
  });

  it('returns undefined when nothing matches', () => {
    expect(pick(table([{ name: 'api', host: 'a.example', path: '/api' }]), 'b.example', '/api')).toBeUndefined();
    expect(createRouteTable([]).match('a.example', '/')).toBeUndefined();
  });
});

describe('createRouteTable: falling back between host buckets', () => {
  const t = table([
    { name: 'exact-api', host: 'app.corp.example', path: '/api' },
    { name: 'wild-ui', host: '*.corp.example', path: '/ui' },
    { name: 'any-root', path: '/' },
  ]);

  it('uses the exact host when its path matches', () => {
    expect(pick(t, 'app.corp.example', '/api/x')).toBe('exact-api');
  });

  it('falls back to the wildcard when the exact host has no matching path', () => {
    expect(pick(t, 'app.corp.example', '/ui/x')).toBe('wild-ui');
  });

  it('falls back to any-host when neither exact nor wildcard match the path', () => {
    expect(pick(t, 'app.corp.example', '/other')).toBe('any-root');
    expect(pick(t, 'x.corp.example', '/api')).toBe('any-root');
  });

  it('an exact host route on "/" beats a longer any-host prefix', () => {
    const t2 = table([
      { name: 'exact-root', host: 'app.example', path: '/' },
      { name: 'any-deep', path: '/very/deep/prefix' },
    ]);
    expect(pick(t2, 'app.example', '/very/deep/prefix/x')).toBe('exact-root');
    expect(pick(t2, 'other.example', '/very/deep/prefix/x')).toBe('any-deep');
  });
});

describe('parseHost feeds the table', () => {
  const hostOf = (header: string) => {
    const p = parseHost(header);
    return p.ok ? p.host : '';
  };
  it.each([
    ['example.com', 'example.com'],
    ['example.com:8080', 'example.com'],
    ['Example.COM', 'example.com'],
    ['MLFLOW.Corp.Example:443', 'mlflow.corp.example'],
    ['127.0.0.1:4180', '127.0.0.1'],
    ['[::1]:80', '[::1]'],
    ['[::1]', '[::1]'],
    ['[FE80::1]:8080', '[fe80::1]'],
    ['[::1', ''],
    ['', ''],
  ] as const)('%j → %j', (header, host) => {
    expect(hostOf(header)).toBe(host);
  });

  it('a Host header with port and upper case still finds the exact route', () => {
    const t = table([
      { name: 'exact', host: 'app.corp.example' },
      { name: 'any', path: '/' },
    ]);
    expect(pick(t, hostOf('APP.Corp.Example:8443'), '/')).toBe('exact');
  });
});
