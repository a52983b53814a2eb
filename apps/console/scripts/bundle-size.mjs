// `npm run console:size`: the built console's JavaScript and CSS, raw and gzipped, the entry chunk (what the first
// page loads) marked. Target: entry < 250 KiB gzipped. Build first (npm run build:console).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const dir = new URL('../../../dist/console/', import.meta.url).pathname;
const html = readFileSync(join(dir, 'index.html'), 'utf8');
const entry = /<script type="module"[^>]*src="\/assets\/([^"]+)"/.exec(html)?.[1];
const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
let entryGzip = 0;
for (const f of readdirSync(join(dir, 'assets')).sort()) {
  const buf = readFileSync(join(dir, 'assets', f));
  const gz = gzipSync(buf, { level: 9 }).length;
  if (f === entry) entryGzip = gz;
  console.log(`${f === entry ? '*' : ' '} ${f.padEnd(32)} ${kib(buf.length).padStart(10)} ${kib(gz).padStart(10)} gzip`);
}
console.log(`main bundle (entry) gzip: ${kib(entryGzip)} (target < 250 KiB)`);
if (entryGzip >= 250 * 1024) process.exitCode = 1;
