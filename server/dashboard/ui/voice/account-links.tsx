/**
 * Links the agent sends to the screen (data messages on topic `switchboard.link`): sign-in links
 * of its `connect_account` tool, each a button that opens the service's sign-in page in a new tab
 * (only links to this API's own `/api/oauth/connect` are shown); and pages an MCP server asks the
 * user to open (URL-mode elicitation), each a button naming the server and the link's host, with
 * the server's reason. Nothing opens by itself.
 */
import { useDataChannel } from '@livekit/components-react';
import { useState } from 'react';
import {
  LINK_TOPIC,
  readAccountLink,
  readServerLink,
  type AccountLink,
  type ServerLink,
} from './account-link-message.js';

/** The links received in this session, newest per server. */
export function AccountLinks() {
  const [links, setLinks] = useState<AccountLink[]>([]);
  const [pages, setPages] = useState<ServerLink[]>([]);
  useDataChannel(LINK_TOPIC, (message) => {
    const link = readAccountLink(message.payload, location.origin);
    if (link) {
      setLinks((now) => [...now.filter((old) => old.serverId !== link.serverId), link]);
      return;
    }
    const page = readServerLink(message.payload);
    if (page) setPages((now) => [...now.filter((old) => old.serverId !== page.serverId), page]);
  });
  if (links.length === 0 && pages.length === 0) return null;
  return (
    <>
      {links.length > 0 && (
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
      )}
      {pages.length > 0 && (
        <ul id="server-links" className="account-links" aria-label="Pages servers ask you to open">
          {pages.map((page) => (
            <li key={page.serverId}>
              <a
                className="button"
                href={page.url}
                target="_blank"
                rel="noopener noreferrer nofollow"
              >
                Open {page.host} for {page.server}
              </a>
              <span className="hint"> {page.message || `${page.server} asks you to open it.`}</span>
            </li>
          ))}
        </ul>
      )}
    </>
  );
}
