/**
 * The dashboard's Content-Security-Policy (server/routes/dashboard.ts): its own origin only, plus
 * the LiveKit server of `LIVEKIT_URL` for the Voice page, in both of the forms livekit-client uses.
 */
import { describe, expect, it } from 'vitest';
import { dashboardCsp, livekitOrigins } from '../../../server/routes/dashboard.js';

describe('livekitOrigins', () => {
  it('gives the WebSocket origin and its HTTP twin of a LiveKit URL', () => {
    expect(livekitOrigins('wss://demo.livekit.cloud')).toEqual([
      'wss://demo.livekit.cloud',
      'https://demo.livekit.cloud',
    ]);
    expect(livekitOrigins('ws://127.0.0.1:7880/')).toEqual([
      'ws://127.0.0.1:7880',
      'http://127.0.0.1:7880',
    ]);
    expect(livekitOrigins('https://lk.example.com:8443/path')).toEqual([
      'wss://lk.example.com:8443',
      'https://lk.example.com:8443',
    ]);
  });

  it('gives nothing for no URL, a URL it cannot read, or another scheme', () => {
    expect(livekitOrigins(undefined)).toEqual([]);
    expect(livekitOrigins('')).toEqual([]);
    expect(livekitOrigins('not a url')).toEqual([]);
    expect(livekitOrigins('ftp://lk.example.com')).toEqual([]);
    // A policy keyword smuggled into the setting cannot reach the header.
    expect(livekitOrigins("wss://x.example.com 'unsafe-inline'")).toEqual([]);
  });
});

describe('dashboardCsp', () => {
  it('allows only its own origin without LiveKit, and adds the LiveKit server with it', () => {
    expect(dashboardCsp()).toContain("connect-src 'self';");
    expect(dashboardCsp()).toContain("frame-ancestors 'none'");
    expect(dashboardCsp()).not.toContain('unsafe');
    expect(dashboardCsp('wss://demo.livekit.cloud')).toContain(
      "connect-src 'self' wss://demo.livekit.cloud https://demo.livekit.cloud;",
    );
  });
});
