// How http/respond.ts classifies a client: a page (or a redirect to sign-in) for a browser
// navigation, JSON for everything else. Requests are real IncomingMessage objects with the
// headers real clients send.
import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { isBrowserNavigation, wantsHtml } from '../../src/http/respond.ts';

function request(headers: Record<string, string>): IncomingMessage {
  const req = new IncomingMessage(new Socket());
  req.headers = headers;
  return req;
}

const FIREFOX = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
const CHROME =
  'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7';

describe('wantsHtml: the best match in Accept is HTML', () => {
  it.each([
    [FIREFOX, true],
    [CHROME, true],
    ['application/xhtml+xml', true],
    ['*/*', false],
    ['application/json', false],
    ['application/json, text/html;q=0.5', false],
    ['text/html;q=0.5, application/json;q=0.5', true],
    ['text/html;q=0, */*', false],
    ['text/*', false],
  ])('%s → %s', (accept, html) => {
    expect(wantsHtml(request({ accept }))).toBe(html);
  });

  it('no Accept at all is not a browser', () => {
    expect(wantsHtml(request({}))).toBe(false);
  });
});

describe('isBrowserNavigation: only a top-level page load that wants HTML', () => {
  it('a browser navigation', () => {
    expect(isBrowserNavigation(request({ accept: CHROME, 'sec-fetch-mode': 'navigate' }))).toBe(true);
    expect(isBrowserNavigation(request({ accept: FIREFOX }))).toBe(true);
  });

  it.each([
    ['its own credentials', { accept: CHROME, authorization: 'Bearer x' }],
    ['an XHR marker', { accept: CHROME, 'x-requested-with': 'XMLHttpRequest' }],
    ['a fetch() from a page', { accept: CHROME, 'sec-fetch-mode': 'cors' }],
    ['an image load', { accept: CHROME, 'sec-fetch-mode': 'no-cors' }],
    ['curl', { accept: '*/*' }],
  ])('not with %s', (_, headers) => {
    expect(isBrowserNavigation(request(headers))).toBe(false);
  });
});
