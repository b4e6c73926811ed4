/**
 * The page's message line: one short sentence under the header saying what just happened, or
 * what went wrong and what to do next. Any component may `say` through {@link useNotice}.
 */
import { createContext, useContext } from 'react';

/** A message for the line; errors stay until the next message. */
export interface Notice {
  text: string;
  kind: 'info' | 'error';
}

/** Shows a message on the line (empty text hides it). */
export type Say = (text: string, kind?: Notice['kind']) => void;

export const NoticeContext = createContext<Say>(() => {});

/** The `say` of the page's message line. */
export function useNotice(): Say {
  return useContext(NoticeContext);
}

/** The message line itself. */
export function NoticeLine({ notice }: { notice: Notice | null }) {
  return (
    <p
      id="message"
      role="status"
      className={`message ${notice?.kind ?? 'info'}`}
      hidden={!notice?.text}
    >
      {notice?.text}
    </p>
  );
}
