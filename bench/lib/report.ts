/** Writes bench/results.md from the results object: targets first, in plain words, then each case. */
import type { ChainCostResult } from '../cases/chain-cost.ts';
import type { HttpResult } from '../cases/http.ts';
import type { IngestResult } from '../cases/ingest.ts';
import type { ProofLookupResult } from '../cases/proof-lookup.ts';
import type { SealAnchorResult } from '../cases/seal-anchor.ts';
import type { TreeBuildResult } from '../cases/tree-build.ts';
import type { Target } from './case.ts';
import type { MachineInfo } from './machine.ts';
import type { Summary } from './stats.ts';

export interface CaseRecord {
  status: 'ok' | 'error' | 'timeout';
  quick: boolean;
  measuredAt: string;
  wallSeconds: number;
  loadBefore: number;
  loadAfter: number;
  error?: string;
  result?: unknown;
}

export interface Results {
  generatedAt: string;
  command: string;
  quick: boolean;
  wallSeconds: number;
  machine: MachineInfo;
  cases: Record<string, CaseRecord>;
  targets: Target[];
}

const n = (v: number | null | undefined, digits = 0) =>
  v === null || v === undefined || !Number.isFinite(v)
    ? '-'
    : v.toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
const spread = (s: Summary | null | undefined, digits = 0) =>
  s ? `${n(s.median, digits)} (${n(s.min, digits)}-${n(s.max, digits)}, n=${s.n})` : '-';
const table = (head: string[], rows: string[][]) =>
  [
    `| ${head.join(' | ')} |`,
    `| ${head.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');

export function verdictWord(t: Target): string {
  if (t.pass === null) return t.id === 'seal-time' ? 'reported' : 'NOT MEASURED';
  const word = t.pass ? 'PASS' : 'MISS';
  return t.provisional ? `${word} (indicative: quick size)` : word;
}

/** What a target line needs from its case beyond the figure: the ingest ceiling at a whole core. */
function extra(t: Target, results: Results): string {
  if (t.id !== 'ingest') return '';
  const r = results.cases.ingest?.result as IngestResult | undefined;
  const cpu = r?.runs.map((x) => x.serverCpuUsPerRecord).filter((x): x is number => x !== null) ?? [];
  if (!cpu.length) return '';
  const mid = [...cpu].sort((a, b) => a - b)[Math.floor(cpu.length / 2)]!;
  return `; the server spends ${n(mid)} us of CPU per record, so even with a whole core to itself it would reach about ${n(1e6 / mid)} records/s`;
}

function plainLine(t: Target, results: Results): string {
  if (t.pass === null) return `- ${t.target}: ${t.figure}.`;
  const word = t.pass ? 'PASS' : 'MISS';
  const tail = t.provisional ? ' (quick mode, smaller size than the target names: indicative only)' : '';
  return t.pass
    ? `- **${word}** - ${t.target}: measured ${t.figure}${extra(t, results)}${tail}.`
    : `- **${word}** - ${t.target}, but measured ${t.figure}${extra(t, results)}${tail}.`;
}

function treeSection(r: TreeBuildResult): string {
  const rows = r.cells.map((c) => [
    c.impl,
    n(c.n),
    c.cut ? `cut: ${c.cutNote}` : spread(c.buildMs, 1),
    spread(c.peakRssMB, 1),
    spread(c.baselineRssMB, 1),
    n(c.netPeakMB, 1),
  ]);
  const cmp = r.comparisons.map((c) => [
    n(c.n),
    c.versus,
    c.speedup === null ? '-' : `${c.speedup}x`,
    c.netPeakRatio === null ? '-' : `${c.netPeakRatio}x`,
    c.rawPeakRatio === null ? '-' : `${c.rawPeakRatio}x`,
  ]);
  return [
    '## 1. Tree build',
    '',
    table(
      [
        'implementation',
        'leaves',
        'build ms: median (min-max, runs)',
        'peak RSS MB',
        'baseline RSS MB',
        'net peak MB',
      ],
      rows,
    ),
    '',
    'proofmark against each other implementation (how many times faster; how many times less net / raw peak memory):',
    '',
    table(['leaves', 'versus', 'speed', 'net memory', 'raw memory'], cmp),
    '',
    `Roots: proofmark equals merkletreejs at ${Object.entries(r.rootsAgree)
      .map(([size, ok]) => `${n(Number(size))}: ${ok === null ? 'not compared' : ok ? 'yes' : 'NO'}`)
      .join(', ')}. Seed ${r.seed}; each run is a fresh child process; cut at ${r.cutMs / 1000} s.`,
    '',
    ...r.notes.map((x) => `- ${x}`),
  ].join('\n');
}

function proofSection(r: ProofLookupResult): string {
  const rows = r.runs.flatMap((run, i) =>
    run.rounds.map((x, j) => [
      `${i + 1}.${j + 1}${j === 0 ? ' (first after seal)' : ''}`,
      n(x.p50, 3),
      n(x.p95, 3),
      n(x.p99, 3),
      n(x.max, 2),
      n(run.cpuMeanMsByRound[j], 3),
      `${x.verified}/${x.n}`,
      n(run.loadBefore, 2),
    ]),
  );
  const gc = r.runs
    .map(
      (x, i) =>
        `run ${i + 1}: ${x.gc.count} GCs, ${x.gc.totalMs} ms in all (longest ${x.gc.maxMs} ms); ${x.gc.slowCalls} calls over 1 ms, ${x.gc.slowCallsDuringGc} of them during a GC`,
    )
    .join('; ');
  return [
    '## 2. Proof lookup',
    '',
    `Batch of ${n(r.leaves)} leaves sealed with sealBatch into SQLite; ${r.lookupsPerRound} random proofFromStore calls per round.`,
    '',
    table(
      ['run.round', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'CPU ms/call (mean)', 'proofs verified', 'load'],
      rows,
    ),
    '',
    `All rounds together: p50 ${r.pooled.p50} ms, p95 ${r.pooled.p95} ms, **p99 ${r.pooled.p99} ms**, max ${r.pooled.max} ms (n=${r.pooled.n}). ` +
      `p99 per round: ${spread(r.p99ByRound, 3)} ms.`,
    '',
    `Seal (sealBatch, ${n(r.leaves)} leaves): **${spread(r.sealMs, 0)} ms**. ` +
      r.runs
        .map(
          (x, i) =>
            `Run ${i + 1}: fixture ${n(x.fixtureMs)} ms, ${x.treeLevels} levels in ${n(x.storedChunks)} chunks, database ${x.databaseMB} MB.`,
        )
        .join(' '),
    '',
    `Garbage collection during the timed calls: ${gc}.`,
    '',
    ...r.notes.map((x) => `- ${x}`),
  ].join('\n');
}

function ingestSection(r: IngestResult): string {
  const rows = r.runs.map((x, i) => [
    String(i + 1),
    n(x.recordsPerSecond),
    n(x.wallMs),
    `${n(x.requestLatencyMs.p50)} / ${n(x.requestLatencyMs.p99)}`,
    n(x.serverCpuUsPerRecord, 1),
    n(x.serverCpuUsPerRecord ? 1e6 / x.serverCpuUsPerRecord : null),
    n(x.serverCpuShare, 2),
    `${n(x.storedRecords)} / ${n(x.storedEvents)}`,
    String(x.batchesSealedDuringRun),
    `${x.loadBefore} -> ${x.loadAfter}`,
  ]);
  return [
    '## 3. Ingest',
    '',
    `${r.setup.requestsPerRun} requests x ${r.setup.recordsPerRequest} records, ${r.setup.concurrentClients} concurrent clients, ` +
      `BATCH_MAX_LEAVES=${r.setup.batchMaxLeaves}, BATCH_MAX_AGE_MS=${r.setup.batchMaxAgeMs}, LOG_LEVEL=${r.setup.serverLogLevel}.`,
    '',
    table(
      [
        'run',
        'records/s',
        'wall ms',
        'request ms p50 / p99',
        'server CPU us/record',
        'records/s at one whole core',
        'server CPU share',
        'stored records / events',
        'batches sealed',
        'load',
      ],
      rows,
    ),
    '',
    `**${spread(r.recordsPerSecond)} records/s** (median (min-max, runs)).`,
    '',
    ...r.notes.map((x) => `- ${x}`),
    '- "Records/s at one whole core" = 1,000,000 / server CPU us per record: what the server would reach if nothing else ' +
      'competed for its core (its work is single-threaded: better-sqlite3 runs on the event loop). A server CPU share ' +
      'under 1.0 while requests queue means other processes took part of its core.',
  ].join('\n');
}

function sealSection(r: SealAnchorResult): string {
  const rows = r.runs.map((x) => [
    String(x.batchId),
    n(x.leaves),
    n(x.sealMs),
    n(x.anchorMs),
    n(x.finalMs),
    n(x.observeMs),
    `**${n(x.totalMs)}**`,
    n(x.gasUsed),
    n(x.loadBefore, 2),
  ]);
  return [
    '## 4. Seal and anchor',
    '',
    table(
      [
        'batch',
        'records',
        'seal ms',
        'anchor ms',
        'final ms',
        'observe ms',
        'total ms',
        'anchor gas',
        'load',
      ],
      rows,
    ),
    '',
    `Seal to final: **${spread(r.totalMs)} ms**; seal ${spread(r.sealMs)} ms, anchor ${spread(r.anchorMs)} ms, final ${spread(r.finalMs)} ms.`,
    '',
    ...r.notes.map((x) => `- ${x}`),
  ].join('\n');
}

function httpSection(r: HttpResult): string {
  const rows = r.runs.map((x) => [
    String(x.round),
    x.endpoint,
    n(x.requestsPerSecond),
    n(x.latencyP50Ms),
    n(x.latencyP99Ms),
    n(x.latencyMaxMs),
    String(x.non2xx + x.errors),
    n(x.serverCpuShare, 2),
    n(x.clientCpuShare, 2),
    n(x.load, 2),
  ]);
  const sum = (['healthz', 'proofs', 'verify'] as const).map((e) => [
    e,
    spread(r.byEndpoint[e].requestsPerSecond),
    spread(r.byEndpoint[e].latencyP99Ms, 1),
    e === 'healthz' ? '1' : spread(r.ratios[e], 3),
  ]);
  return [
    '## 5. HTTP',
    '',
    `${r.connections} connections, ${r.durationSeconds} s per run, ${r.rounds} round(s); ${n(r.records)} final records.`,
    '',
    table(['endpoint', 'req/s', 'p99 ms', 'x healthz'], sum),
    '',
    table(
      [
        'round',
        'endpoint',
        'req/s',
        'p50 ms',
        'p99 ms',
        'max ms',
        'non-2xx + errors',
        'server CPU',
        'client CPU',
        'load',
      ],
      rows,
    ),
    '',
    ...r.notes.map((x) => `- ${x}`),
    ...(r.runs.some((x) => x.endpoint === 'healthz' && x.clientCpuShare > 0.85)
      ? [
          '- During healthz both autocannon and the server used about one core each: healthz req/s is the ceiling of ' +
            'this 2-core machine with load generator and server on it, so the ratios are if anything generous.',
        ]
      : []),
  ].join('\n');
}

function chainSection(r: ChainCostResult): string {
  return [
    '## 6. Chain cost',
    '',
    table(
      ['batch', 'records', 'anchor gas', 'gas per record'],
      r.anchors.map((a) => [
        `${a.batchId}${a.first ? ' (first)' : ''}`,
        n(a.leafCount),
        n(a.gasUsed),
        n(a.gasPerRecord, 4),
      ]),
    ),
    '',
    `First anchor ${n(r.firstAnchorGas)} gas; later anchors ${n(r.subsequentAnchorGas.min)}-${n(r.subsequentAnchorGas.max)} gas. ` +
      `Gas per record: ${r.perSize.map((p) => `${n(p.gasPerRecord, 4)} at ${n(p.records)} records`).join(', ')}. ` +
      `For reference: deployment ${n(r.deployGas)} gas, granting ANCHORER_ROLE ${n(r.grantRoleGas)} gas (${r.hardfork}).`,
    '',
    ...r.notes.map((x) => `- ${x}`),
  ].join('\n');
}

const SECTIONS: Record<string, (r: never) => string> = {
  'tree-build': treeSection,
  'proof-lookup': proofSection,
  ingest: ingestSection,
  'seal-anchor': sealSection,
  http: httpSection,
  'chain-cost': chainSection,
};

export function renderMarkdown(results: Results, order: readonly string[]): string {
  const m = results.machine;
  const loads = Object.values(results.cases).flatMap((c) => [c.loadBefore, c.loadAfter]);
  const out: string[] = [
    '# proofmark benchmark results',
    '',
    `Generated ${results.generatedAt} by \`${results.command}\`${results.quick ? ' (quick mode: smaller sizes, fewer runs)' : ''}; ` +
      `suite wall time ${n(results.wallSeconds)} s.`,
    '',
    '## Targets',
    '',
    table(
      ['case', 'target', 'measured', 'result'],
      results.targets.map((t) => [t.case, t.target, t.figure, `**${verdictWord(t)}**`]),
    ),
    '',
    'In plain words:',
    '',
    ...results.targets.filter((t) => t.id !== 'seal-time').map((t) => plainLine(t, results)),
    '',
    '## Machine',
    '',
    table(
      ['', ''],
      [
        ['CPU', `${m.cpuModel}, ${m.cores} cores (${m.arch})`],
        ['memory', `${m.memoryGiB} GiB (${m.freeMemoryGiB} GiB free at start)`],
        ['OS', `${m.platform} ${m.kernel}`],
        ['Node', `${m.node} (V8 ${m.v8})`],
        ['SQLite', m.sqlite ?? '-'],
        [
          'temp dir',
          `${m.tmpdir} on ${m.tmpFilesystem ?? '?'}; write+fsync of 4 KiB: median ${m.fsyncMedianMs} ms`,
        ],
        [
          'code',
          `${m.git.commit ?? '?'}${m.git.dirtyFiles ? ` + ${m.git.dirtyFiles} uncommitted file(s)` : ''}`,
        ],
        [
          'packages',
          Object.entries(m.packages)
            .map(([k, v]) => `${k} ${v ?? '-'}`)
            .join(', '),
        ],
        [
          'load',
          `1-minute load average ${n(Math.min(...loads), 2)}-${n(Math.max(...loads), 2)} over the cases (see each case)`,
        ],
      ],
    ),
    '',
    `Load average above the core count means other processes were competing for the CPU during the run; that ` +
      'inflates times and tail latencies (a runnable thread waits for a time slice of several ms). Each case records the ' +
      'load before and after it; figures taken under load are pessimistic for this machine.',
    '',
    table(
      ['case', 'status', 'wall s', 'load before -> after', 'measured at'],
      order
        .filter((c) => results.cases[c])
        .map((c) => {
          const r = results.cases[c]!;
          return [
            c,
            r.status + (r.quick ? ' (quick)' : ''),
            n(r.wallSeconds, 1),
            `${r.loadBefore} -> ${r.loadAfter}`,
            r.measuredAt,
          ];
        }),
    ),
  ];
  for (const name of order) {
    const c = results.cases[name];
    if (!c) continue;
    out.push('');
    if (c.status !== 'ok' || !c.result) {
      out.push(`## ${name}`, '', `**Failed (${c.status})**: ${c.error ?? 'no result'}`);
      continue;
    }
    out.push(SECTIONS[name]!(c.result as never));
  }
  return `${out.join('\n')}\n`;
}
