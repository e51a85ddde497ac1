/**
 * proofmark benchmarks: `npm run bench` (full), `npm run bench -- --quick` (under two minutes),
 * `npm run bench -- --only ingest,http` (some cases; merged into the existing results file),
 * `npm run bench -- --report-only [--quick]` (rewrite the markdown from the JSON).
 *
 * Each case runs in its own child process (a fresh heap, its own server and chain) and hands back a
 * JSON result; this program adds the machine's description and writes bench/results.json and
 * bench/results.md (quick mode: bench/results.quick.json and .md, so a quick run never overwrites
 * full results). Progress goes to stderr.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chainCostReport } from './cases/chain-cost.ts';
import { directoryReport } from './cases/directory.ts';
import { httpReport } from './cases/http.ts';
import { ingestReport } from './cases/ingest.ts';
import { proofLookupReport } from './cases/proof-lookup.ts';
import { realChainReport } from './cases/real-chain.ts';
import { sealAnchorReport } from './cases/seal-anchor.ts';
import { sealStallReport } from './cases/seal-stall.ts';
import { treeBuildReport } from './cases/tree-build.ts';
import { uniquenessReport } from './cases/uniqueness.ts';
import type { BenchCase, Target } from './lib/case.ts';
import { runTs } from './lib/child.ts';
import { progress } from './lib/log.ts';
import { load1, machineInfo, ROOT } from './lib/machine.ts';
import { renderMarkdown, verdictWord, type CaseRecord, type Results } from './lib/report.ts';

/** The suite, in the order it runs and is reported; each id names bench/cases/<id>.ts. */
const CASES: readonly BenchCase[] = [
  { id: 'tree-build', report: treeBuildReport },
  { id: 'proof-lookup', report: proofLookupReport },
  { id: 'ingest', report: ingestReport },
  { id: 'seal-anchor', report: sealAnchorReport },
  { id: 'seal-stall', report: sealStallReport },
  { id: 'http', report: httpReport },
  { id: 'chain-cost', report: chainCostReport },
  { id: 'directory', report: directoryReport },
  { id: 'real-chain', report: realChainReport },
  { id: 'uniqueness', report: uniquenessReport },
];
const CASE_IDS = CASES.map((c) => c.id);

function parseArgs(argv: string[]) {
  const quick = argv.includes('--quick');
  const onlyIndex = argv.indexOf('--only');
  const only = onlyIndex >= 0 ? (argv[onlyIndex + 1] ?? '').split(',').filter(Boolean) : null;
  for (const c of only ?? []) {
    if (!CASE_IDS.includes(c)) throw new Error(`unknown case ${c}; cases: ${CASE_IDS.join(', ')}`);
  }
  const outIndex = argv.indexOf('--out');
  const out = outIndex >= 0 ? argv[outIndex + 1]! : join(ROOT, 'bench', quick ? 'results.quick' : 'results');
  return { quick, only, out };
}

async function main(): Promise<void> {
  const { quick, only, out } = parseArgs(process.argv.slice(2));
  if (process.argv.includes('--report-only')) {
    // Re-renders the markdown from the JSON already written (after a change to the report layout).
    const results = JSON.parse(readFileSync(`${out}.json`, 'utf8')) as Results;
    writeFileSync(`${out}.md`, renderMarkdown(results, CASES));
    progress(`rewrote ${out}.md from ${out}.json`);
    return;
  }
  const started = performance.now();
  const selected = only ?? CASE_IDS;
  progress(`proofmark bench${quick ? ' (quick)' : ''}: ${selected.join(', ')}`);
  const machine = await machineInfo();
  progress(
    `${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Node ${machine.node}, load ${load1()}`,
  );

  const jsonFile = `${out}.json`;
  let previous: Results | null = null;
  if (only && existsSync(jsonFile)) previous = JSON.parse(readFileSync(jsonFile, 'utf8')) as Results;
  const cases: Record<string, CaseRecord> = { ...(previous?.cases ?? {}) };

  const scratch = mkdtempSync(join(tmpdir(), 'proofmark-bench-run-'));
  try {
    for (const name of selected) {
      const resultFile = join(scratch, `${name}.json`);
      const loadBefore = load1();
      progress(`== ${name} (load ${loadBefore})`);
      const t0 = performance.now();
      const child = await runTs(
        `bench/cases/${name}.ts`,
        [...(quick ? ['--quick'] : []), '--json-out', resultFile],
        { timeoutMs: (quick ? 4 : 30) * 60_000, echoStderr: true },
      );
      const record: CaseRecord = {
        status: child.timedOut ? 'timeout' : child.code === 0 && existsSync(resultFile) ? 'ok' : 'error',
        quick,
        measuredAt: new Date().toISOString(),
        wallSeconds: Math.round((performance.now() - t0) / 100) / 10,
        loadBefore,
        loadAfter: load1(),
      };
      if (record.status === 'ok') record.result = JSON.parse(readFileSync(resultFile, 'utf8'));
      else
        record.error = child.timedOut
          ? 'the case ran past its time limit and was killed'
          : child.stderr.slice(-2000);
      cases[name] = record;
      progress(`== ${name}: ${record.status} in ${record.wallSeconds} s`);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }

  const targets: Target[] = CASE_IDS.flatMap((c) => {
    const r = cases[c]?.result as { targets?: Target[] } | undefined;
    return r?.targets ?? [];
  });
  const wallSeconds = Math.round((performance.now() - started) / 100) / 10;
  const results: Results = {
    generatedAt: new Date().toISOString(),
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    quick,
    wallSeconds: previous ? previous.wallSeconds : wallSeconds,
    machine,
    cases,
    targets,
  };
  if (previous) results.command = `${previous.command}; then ${results.command} (${wallSeconds} s)`;
  writeFileSync(jsonFile, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(`${out}.md`, renderMarkdown(results, CASES));
  progress(`wrote ${jsonFile} and ${out}.md in ${wallSeconds} s`);
  for (const t of targets) progress(`${verdictWord(t, CASES).padEnd(8)} ${t.target}: ${t.figure}`);
  const failed = Object.entries(cases).filter(([, c]) => c.status !== 'ok');
  if (failed.length) {
    progress(`failed: ${failed.map(([n]) => n).join(', ')}`);
    process.exitCode = 1;
  }
}

await main();
