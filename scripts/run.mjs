#!/usr/bin/env node
/**
 * What `npm start` (and `npm run sideline`, `relay`, `migrate`) runs: rebuilds a part whose sources
 * changed since its build (see build-if-stale.mjs), then runs the built server in this same process
 * with the given arguments — one Node start, not two, before the server answers.
 */
import { buildIfStale } from './build-if-stale.mjs';

buildIfStale(process.cwd());
await import(new URL('../dist/main.js', import.meta.url).href);
