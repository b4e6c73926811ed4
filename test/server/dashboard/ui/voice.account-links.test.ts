/** Reading the agent's sign-in link messages on the Voice page (ui/voice/account-link-message.ts). */
import { describe, expect, it } from 'vitest';
import {
  readAccountLink,
  readServerLink,
} from '../../../../server/dashboard/ui/voice/account-link-message.js';
import { LINK_TOPIC } from '../../../../agent/account-links.js';
import { LINK_TOPIC as PAGE_TOPIC } from '../../../../server/dashboard/ui/voice/account-link-message.js';

const ORIGIN = 'https://sb.example.com';
const bytes = (value: unknown) =>
  new TextEncoder().encode(typeof value === 'string' ? value : JSON.stringify(value));
const link = {
  type: 'connect_account',
  serverId: 4,
  server: 'Tracker',
  url: `${ORIGIN}/api/oauth/connect?link=abc&to=https%3A%2F%2Fas.example.com%2Fauthorize`,
};

describe('readAccountLink', () => {
  it('reads a link to this API, on the topic the agent sends', () => {
    expect(PAGE_TOPIC).toBe(LINK_TOPIC);
    expect(readAccountLink(bytes(link), ORIGIN)).toEqual({
      serverId: 4,
      server: 'Tracker',
      url: link.url,
    });
  });

  it.each([
    ['another site', { ...link, url: 'https://evil.example.com/api/oauth/connect?link=x' }],
    ['another path of this site', { ...link, url: `${ORIGIN}/dashboard/` }],
    ['another type', { ...link, type: 'chat' }],
    ['no server', { ...link, server: undefined }],
    ['not JSON', 'hello'],
    ['a URL that is not one', { ...link, url: 'not a url' }],
  ])('ignores %s', (_what, message) => {
    expect(readAccountLink(bytes(message), ORIGIN)).toBeUndefined();
  });
});

describe('readServerLink', () => {
  const page = {
    type: 'elicitation',
    serverId: 7,
    server: 'Everything',
    url: 'https://approve.example.com/flow?x=1',
    message: 'Please open the link to complete this action.',
  };

  it("reads a server's link to any http(s) site, with its host for the button", () => {
    expect(readServerLink(bytes(page))).toEqual({
      serverId: 7,
      server: 'Everything',
      url: 'https://approve.example.com/flow?x=1',
      host: 'approve.example.com',
      message: 'Please open the link to complete this action.',
    });
    expect(readServerLink(bytes({ ...page, message: 'x'.repeat(400) }))?.message).toHaveLength(300);
    // A sign-in link is not a server link, and a server link is not a sign-in link.
    expect(readServerLink(bytes(link))).toBeUndefined();
    expect(readAccountLink(bytes(page), ORIGIN)).toBeUndefined();
  });

  it.each([
    ['a javascript: URL', { ...page, url: 'javascript:alert(1)' }],
    ['a data: URL', { ...page, url: 'data:text/html,hi' }],
    ['no server', { ...page, server: undefined }],
    ['not JSON', 'hello'],
  ])('ignores %s', (_what, message) => {
    expect(readServerLink(bytes(message))).toBeUndefined();
  });
});
