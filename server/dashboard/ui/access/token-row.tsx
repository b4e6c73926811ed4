/**
 * One token in a token list (API tokens, widget tokens): its label, what it opens (API tokens),
 * when it was made and last used, and Revoke, or when it was revoked. Never the token itself.
 */
import { scopeWords, when } from '../format.js';
import type { ApiToken } from '../types.js';

/**
 * The row.
 *
 * @param idAttribute the data attribute carrying the token's id (`data-token-id`, …), for tests.
 * @param onRevoke asks to revoke it.
 */
export function TokenRow({
  token,
  idAttribute,
  onRevoke,
}: {
  token: ApiToken;
  idAttribute: `data-${string}`;
  onRevoke: (token: ApiToken) => void;
}) {
  return (
    <li {...{ [idAttribute]: token.id }} data-revoked={String(Boolean(token.revokedAt))}>
      <div>
        <strong>{token.label || '(no label)'}</strong>
        <span className="hint">
          {' '}
          {token.scopes !== undefined ? (
            <span className="scopes" data-scopes={JSON.stringify(token.scopes)}>
              {scopeWords(token.scopes)} ·{' '}
            </span>
          ) : null}
          created {when(token.createdAt)} · last used{' '}
          {token.lastUsedAt ? when(token.lastUsedAt) : 'never'}
        </span>
      </div>
      {token.revokedAt ? (
        <span className="hint">revoked {when(token.revokedAt)}</span>
      ) : (
        <button
          type="button"
          className="danger"
          data-action="revoke"
          onClick={() => onRevoke(token)}
        >
          Revoke
        </button>
      )}
    </li>
  );
}
