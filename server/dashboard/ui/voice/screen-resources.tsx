/**
 * Resources the agent puts on the user's screen (data messages on topic `switchboard.resource`,
 * from the agent's resource tools): text in a block, images inline, other files as a download,
 * newest first. Only the agent's messages are shown.
 */
import { useDataChannel } from '@livekit/components-react';
import { useState } from 'react';
import {
  MAX_SCREEN_RESOURCES,
  RESOURCE_TOPIC,
  readScreenResource,
  screenForm,
  sizeText,
  type ScreenResource,
} from './resource-message.js';

/** The resources received in this session. */
export function ScreenResources() {
  const [items, setItems] = useState<Array<ScreenResource & { key: number }>>([]);
  useDataChannel(RESOURCE_TOPIC, (message) => {
    // Another participant of the room cannot put things on the user's screen.
    if (message.from && !message.from.isAgent) return;
    const item = readScreenResource(message.payload);
    if (item) {
      setItems((now) =>
        [{ ...item, key: (now[0]?.key ?? 0) + 1 }, ...now].slice(0, MAX_SCREEN_RESOURCES),
      );
    }
  });
  if (items.length === 0) return null;
  return (
    <section id="screen-resources" className="screen-resources" aria-label="From the agent">
      <h3>From the agent</h3>
      <ul>
        {items.map((item) => (
          <li key={item.key} data-resource-uri={item.uri}>
            <ResourceCard item={item} />
          </li>
        ))}
      </ul>
    </section>
  );
}

function ResourceCard({ item }: { item: ScreenResource }) {
  const form = screenForm(item);
  const about = [item.server, item.mimeType, sizeText(item.size)].filter(Boolean).join(' · ');
  return (
    <>
      <div>
        <strong>{item.name}</strong> <span className="hint">{about}</span>
      </div>
      {form === 'text' ? <pre className="resource-text">{item.text}</pre> : null}
      {form === 'image' ? (
        <img
          className="resource-image"
          alt={item.name}
          src={`data:${item.mimeType};base64,${item.base64}`}
        />
      ) : null}
      {form === 'download' ? (
        <a
          className="button"
          download={item.name}
          href={`data:application/octet-stream;base64,${item.base64}`}
        >
          Download {item.name}
        </a>
      ) : null}
      {form === 'name' ? (
        <p className="hint">Too large to send to the screen; ask the agent about it instead.</p>
      ) : null}
      {item.truncated && form === 'text' ? (
        <p className="hint">Only the beginning fits on the screen.</p>
      ) : null}
    </>
  );
}
