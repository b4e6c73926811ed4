/** The widget's overall status rule, from the system parts and the owner's servers. */
import { describe, expect, it } from 'vitest';
import type { CheckedStatus, SystemPart } from '../../../server/status/snapshot.js';
import { widgetStatus, type WidgetServer } from '../../../server/status/widget-status.js';

const at = '2026-12-01T00:00:00.000Z';
const part = (status: CheckedStatus['status'], extra: Partial<CheckedStatus> = {}) => ({
  status,
  detail: `a detail quoting https://secret.example.com/${status}`,
  checkedAt: at,
  ...extra,
});
const system = (
  over: Partial<Record<SystemPart, CheckedStatus>> = {},
): Record<SystemPart, CheckedStatus> => ({
  database: part('connected'),
  livekit: part('connected'),
  openai: part('connected'),
  ...over,
});
const server = (name: string, status: WidgetServer['status']): WidgetServer => ({
  name,
  status,
  toolCount: null,
  latencyMs: null,
  lastConnected: null,
});

describe('widgetStatus', () => {
  it('is ok with everything connected, and with unconfigured parts and disabled servers', () => {
    expect(widgetStatus(system(), [server('a', 'connected')]).status).toBe('ok');
    const answer = widgetStatus(system({ livekit: part('unconfigured') }), [
      server('a', 'connected'),
      server('b', 'disabled'),
    ]);
    expect(answer.status).toBe('ok');
    expect(widgetStatus(system(), []).status).toBe('ok');
  });

  it('is degraded while servers connect, fail or stop, as long as one does not fail', () => {
    for (const status of ['connecting', 'degraded', 'disconnected', 'error'] as const) {
      const answer = widgetStatus(system(), [server('a', 'connected'), server('b', status)]);
      expect(answer.status, status).toBe('degraded');
    }
    expect(widgetStatus(system(), [server('a', 'connecting')]).status).toBe('degraded');
  });

  it('is degraded when the OpenAI realtime endpoint refuses sessions', () => {
    const openai = part('connected', {
      realtime: { status: 'error', sessionModel: 'pipeline', detail: 'refused' },
    });
    const answer = widgetStatus(system({ openai }), []);
    expect(answer.status).toBe('degraded');
    expect(answer.detail).toMatch(/falls back to the pipeline/);
  });

  it('is down when a system check fails or every enabled server is in error', () => {
    expect(widgetStatus(system({ database: part('error') }), []).detail).toBe('Failing: database.');
    expect(widgetStatus(system({ openai: part('error') }), []).status).toBe('down');
    const servers = [server('a', 'error'), server('b', 'error'), server('c', 'disabled')];
    const answer = widgetStatus(system(), servers);
    expect(answer.status).toBe('down');
    expect(answer.detail).toBe('None of the 2 MCP servers can connect.');
  });

  it('gives fixed details, never the checks’ own', () => {
    const answer = widgetStatus(system({ livekit: part('error') }), [], new Date(at));
    expect(JSON.stringify(answer)).not.toContain('secret.example.com');
    expect(answer.checkedAt).toBe(at);
  });
});
