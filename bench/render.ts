/**
 * Re-renders a saved run: prints its tables and rewrites bench/results/latest.md from it.
 *   node --import tsx bench/render.ts bench/results/<timestamp>.json
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ROOT } from './lib/processes.js';
import { renderMarkdown, renderText, type Report } from './lib/report.js';

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: node --import tsx bench/render.ts bench/results/<timestamp>.json\n');
  process.exit(2);
}
const report = JSON.parse(await readFile(file, 'utf8')) as Report;
await writeFile(join(ROOT, 'bench', 'results', 'latest.md'), renderMarkdown(report));
process.stdout.write(`${renderText(report)}\n`);
