/** Reading the resources the agent puts on the screen (ui/voice/resource-message.ts). */
import { describe, expect, it } from 'vitest';
import {
  RESOURCE_TOPIC,
  fitScreenMessage,
  type ResourceScreenMessage,
} from '../../../../agent/resource-tools.js';
import {
  RESOURCE_TOPIC as PAGE_TOPIC,
  readScreenResource,
  screenForm,
  sizeText,
} from '../../../../server/dashboard/ui/voice/resource-message.js';

const bytes = (value: unknown) =>
  new TextEncoder().encode(typeof value === 'string' ? value : JSON.stringify(value));
const message: ResourceScreenMessage = {
  type: 'resource',
  serverId: 3,
  server: 'Everything',
  name: 'features.md',
  uri: 'demo://resource/static/document/features.md',
  mimeType: 'text/markdown',
  text: '# Features',
  size: 10,
  truncated: false,
};

describe('readScreenResource', () => {
  it('reads what the agent sends, on the topic it sends it', () => {
    expect(PAGE_TOPIC).toBe(RESOURCE_TOPIC);
    const shown: Partial<ResourceScreenMessage> = { ...message };
    delete shown.type;
    expect(readScreenResource(bytes(fitScreenMessage(message)))).toEqual(shown);
    const cut = fitScreenMessage({ ...message, text: 'x'.repeat(40_000), size: 40_000 });
    expect(readScreenResource(bytes(cut))).toMatchObject({ truncated: true, size: 40_000 });
  });

  it.each([
    ['another type', { ...message, type: 'connect_account' }],
    ['no name', { ...message, name: undefined }],
    ['a size that is not a number', { ...message, size: '10' }],
    ['text that is not text', { ...message, text: 42 }],
    ['bytes that are not base64', { ...message, text: undefined, base64: '<script>' }],
    ['not JSON', 'hello'],
  ])('ignores %s', (_what, sent) => {
    expect(readScreenResource(bytes(sent))).toBeUndefined();
  });

  it('shows text as text, safe images inline, other bytes as a download, and names the rest', () => {
    const base = { ...message, text: undefined };
    expect(screenForm(message)).toBe('text');
    expect(screenForm({ ...base, mimeType: 'image/png', base64: 'AA==' })).toBe('image');
    expect(screenForm({ ...base, mimeType: 'image/svg+xml', base64: 'AA==' })).toBe('download');
    expect(screenForm({ ...base, mimeType: 'application/gzip', base64: 'AA==' })).toBe('download');
    expect(screenForm({ ...base, truncated: true })).toBe('name');
    expect(sizeText(512)).toBe('512 B');
    expect(sizeText(12_595)).toBe('12.3 KB');
  });
});
