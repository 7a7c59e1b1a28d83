// Which header carries Gatehouse's bearer credential (auth/bearer/credential.ts): Proxy-Authorization
// Bearer first, else Authorization Bearer; every other scheme is the tool's.
import { describe, expect, it } from 'vitest';
import { bearerCredential } from '../../../src/auth/bearer/credential.ts';

describe('bearerCredential', () => {
  const cases: [string, Record<string, string>, ReturnType<typeof bearerCredential>][] = [
    ['Authorization Bearer', { authorization: 'Bearer abc' }, { token: 'abc', header: 'authorization' }],
    ['scheme in any case', { authorization: 'bEaReR abc' }, { token: 'abc', header: 'authorization' }],
    ['Proxy-Authorization Bearer', { 'proxy-authorization': 'Bearer gh' }, { token: 'gh', header: 'proxy-authorization' }],
    [
      'both Bearer: Proxy-Authorization wins',
      { 'proxy-authorization': 'Bearer gh', authorization: 'Bearer tool' },
      { token: 'gh', header: 'proxy-authorization' },
    ],
    [
      'tool Token beside Proxy-Authorization',
      { 'proxy-authorization': 'Bearer gh', authorization: 'Token ls-key' },
      { token: 'gh', header: 'proxy-authorization' },
    ],
    ["JupyterHub token is the tool's", { authorization: 'token jupyter' }, undefined],
    ["Label Studio Token is the tool's", { authorization: 'Token ls-key' }, undefined],
    ["Basic is the tool's", { authorization: 'Basic dXNlcjpwYXNz' }, undefined],
    [
      "a forward proxy's Basic is not Gatehouse's",
      { 'proxy-authorization': 'Basic cDpx', authorization: 'Bearer abc' },
      { token: 'abc', header: 'authorization' },
    ],
    ['bare scheme is no credential', { authorization: 'Bearer' }, undefined],
    ['scheme must be followed by a space', { authorization: 'Bearerabc' }, undefined],
    ['nothing', {}, undefined],
  ];
  it.each(cases)('%s', (_why, headers, expected) => {
    expect(bearerCredential(headers)).toEqual(expected);
    expect(bearerCredential(headers, 'any')).toEqual(expected);
  });

  // bearer_header: proxy_authorization — Authorization is the tool's, Bearer or not.
  const proxyOnly: [string, Record<string, string>, ReturnType<typeof bearerCredential>][] = [
    ["Authorization Bearer is the tool's", { authorization: 'Bearer tool' }, undefined],
    [
      "Proxy-Authorization Bearer is Gatehouse's",
      { 'proxy-authorization': 'Bearer gh', authorization: 'Bearer tool' },
      { token: 'gh', header: 'proxy-authorization' },
    ],
    ["a forward proxy's Basic still is not", { 'proxy-authorization': 'Basic cDpx', authorization: 'Bearer tool' }, undefined],
  ];
  it.each(proxyOnly)('proxy_authorization: %s', (_why, headers, expected) => {
    expect(bearerCredential(headers, 'proxy_authorization')).toEqual(expected);
  });
});
