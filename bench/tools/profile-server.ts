/**
 * Profiles the server process under one load, for diagnosing a missed target:
 *
 *   npx tsx bench/tools/profile-server.ts <healthz|proofs|verify|ingest> [seconds] [records]
 *
 * Starts a server with `--cpu-prof` (in bench/tmp/profiles/), prepares anchored-final records through the
 * API, loads the one endpoint (autocannon, 32 connections; for ingest, 4 clients posting 1,000 records),
 * stops the server so it writes its profile, and prints the top functions of the loaded window only.
 */
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ingest, recordBodies, sealNow, verifiedMerchant, waitFinal } from '../lib/api.ts';
import { progress } from '../lib/log.ts';
import { ROOT } from '../lib/machine.ts';
import { Prng } from '../lib/prng.ts';
import { startBenchServer } from '../lib/server.ts';
import { ENDPOINTS, fire, type Endpoint } from '../cases/http.ts';
import { INGEST_ENV } from '../cases/ingest.ts';
import { summarise } from './cpuprofile-top.ts';

const what = process.argv[2] as Endpoint | 'ingest' | undefined;
const seconds = Number(process.argv[3] ?? 10);
const records = Number(process.argv[4] ?? 20_000);
if (!what || (what !== 'ingest' && !ENDPOINTS.includes(what))) {
  throw new Error(`usage: profile-server.ts <${ENDPOINTS.join('|')}|ingest> [seconds] [records]`);
}
const dir = join(ROOT, 'bench', 'tmp', 'profiles', `${what}-${Date.now()}`);
mkdirSync(dir, { recursive: true });
const started = Date.now();
const server = await startBenchServer({ env: INGEST_ENV, cpuProfDir: dir });
let windowStart = 0;
try {
  const apiKey = await verifiedMerchant(server);
  if (what === 'ingest') {
    const bodies = recordBodies('prof', Math.max(1, Math.round(seconds * 8)));
    windowStart = Date.now() - started;
    progress(`ingest: ${bodies.length} requests of 1,000 records`);
    const out = await ingest(server, apiKey, bodies, 4);
    progress(`${Math.round(out.records / (out.wallMs / 1000))} records/s`);
  } else {
    const { ids } = await ingest(server, apiKey, recordBodies('prof', records / 1000), 4);
    const [batch] = await sealNow(server);
    await waitFinal(server, batch!.id);
    const prng = new Prng(1);
    await fire(server, what, ids, 2, prng);
    windowStart = Date.now() - started;
    progress(`${what}: ${seconds} s under autocannon`);
    const res = await fire(server, what, ids, seconds, prng);
    progress(
      `${Math.round(res['2xx'] / res.duration)} req/s, p99 ${res.latency.p99} ms, server CPU ${res.serverCpuShare}`,
    );
  }
} finally {
  await server.stop();
}
const file = readdirSync(dir)
  .map((f) => join(dir, f))
  .sort((a, b) => statSync(b).size - statSync(a).size)[0]!;
console.log(`profile: ${file}`);
// The profile starts with the server process, a little after `started`: skipping from there is conservative.
console.log(summarise(JSON.parse(readFileSync(file, 'utf8')), 40, windowStart));
process.exit(0);
