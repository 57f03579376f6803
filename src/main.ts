#!/usr/bin/env node
/**
 * The `sideline` command. `serve` on the embedded store starts PostgreSQL on its thread first thing,
 * before the rest of the program loads (src/cli/commands.ts, then the app in src/runtime.ts), so
 * the two overlap; everything else is loaded by the command that needs it.
 */
import { loadConfig } from './config.js';
import { startEmbedded } from './db/embedded-start.js';
import type { EarlyStart } from './cli/commands.js';

function startEarly(argv: string[]): EarlyStart {
  const command = argv.find((arg) => !arg.startsWith('-')) ?? 'serve';
  if (command !== 'serve' || argv.includes('--help') || argv.includes('-h')) return undefined;
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch {
    return undefined; // the command reports it, as it reports every configuration error
  }
  if (config.databaseUrl) return undefined;
  try {
    return startEmbedded(config.dataDir);
  } catch (error) {
    return { error }; // e.g. the directory is locked by another server: reported by serve
  }
}

const argv = process.argv.slice(2);
const early = startEarly(argv);
const { runCli } = await import('./cli/commands.js');
await runCli(argv, early);
