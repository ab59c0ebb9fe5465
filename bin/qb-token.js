#!/usr/bin/env node
// `qb-token`: runs the TypeScript CLI through tsx's ESM loader, so the CLI uses the very same
// core sources as the app and the headless server, with no separate build step.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
