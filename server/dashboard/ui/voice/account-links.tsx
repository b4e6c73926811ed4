/**
 * Sign-in links the agent sends to the screen (data messages on topic `switchboard.link`, from
 * the agent's `connect_account` tool): each shows as a button that opens the service's sign-in
 * page in a new tab. Only links to this API's own `/api/oauth/connect` are shown.
 */
import { useDataChannel } from '@livekit/components-react';
import { useState } from 'react';
import { LINK_TOPIC, readAccountLink, type AccountLink } from './account-link-message.js';

/** The links received in this session, newest per server. */
export function AccountLinks() {
  const [links, setLinks] = useState<AccountLink[]>([]);
  useDataChannel(LINK_TOPIC, (message) => {
    const link = readAccountLink(message.payload, location.origin);
    if (link) {
      setLinks((now) => [...now.filter((old) => old.serverId !== link.serverId), link]);
    }
  });
  if (links.length === 0) return null;
  return (
    <ul id="account-links" className="account-links" aria-label="Accounts to connect">
      {links.map((link) => (
        <li key={link.serverId}>
          <a className="button" href={link.url} target="_blank" rel="noopener noreferrer">
            Connect your {link.server} account
          </a>
          <span className="hint">
            {' '}
            The agent sent this sign-in link; it works once, for 10 minutes.
          </span>
        </li>
      ))}
    </ul>
  );
}
