#!/usr/bin/env node
// `node <repo>/cli/gateway/bin.mjs`: the stdio gateway (cli/gateway/main.ts) from any working
// directory, as MCP desktop clients start it. `node --import tsx` resolves tsx from the working
// directory; this file resolves it from the repository instead, then loads the TypeScript entry.
import { register } from 'tsx/esm/api';

register();
await import('./main.ts');
