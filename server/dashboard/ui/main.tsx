/**
 * The dashboard's entry point: renders {@link App} into `#root` of `public/index.html`.
 */
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './app.js';

const root = document.getElementById('root');
if (!root) throw new Error('#root is missing from the dashboard page');
createRoot(root).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
