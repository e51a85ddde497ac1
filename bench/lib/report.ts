/**
 * Writes bench/results.md from the results object: targets first, in plain words, then the machine,
 * then one section per case. Knows no case: each case's CaseReport renders its own section and any
 * words its targets' lines need (see bench/lib/case.ts).
 */
import type { BenchCase, CaseReport, Target } from './case.ts';
import type { MachineInfo } from './machine.ts';
import { num, table } from './markdown.ts';

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

function reportOf(cases: readonly BenchCase[], id: string): CaseReport<never> | undefined {
  return cases.find((c) => c.id === id)?.report;
}

/** PASS, MISS, or for a target without a pass mark: 'reported' if its case says so, else NOT MEASURED. */
export function verdictWord(t: Target, cases: readonly BenchCase[]): string {
  if (t.pass === null)
    return reportOf(cases, t.case)?.reportedTargets?.includes(t.id) ? 'reported' : 'NOT MEASURED';
  const word = t.pass ? 'PASS' : 'MISS';
  return t.provisional ? `${word} (indicative: quick size)` : word;
}

function plainLine(t: Target, results: Results, cases: readonly BenchCase[]): string {
  if (t.pass === null) return `- ${t.target}: ${t.figure}.`;
  const word = t.pass ? 'PASS' : 'MISS';
  const tail = t.provisional ? ' (quick mode, smaller size than the target names: indicative only)' : '';
  const result = results.cases[t.case]?.result;
  const targetExtra = reportOf(cases, t.case)?.targetExtra;
  const extra = targetExtra && result !== undefined ? targetExtra(t, result as never) : '';
  return t.pass
    ? `- **${word}** - ${t.target}: measured ${t.figure}${extra}${tail}.`
    : `- **${word}** - ${t.target}, but measured ${t.figure}${extra}${tail}.`;
}

/** The whole report; `cases` in suite order (it numbers the sections). */
export function renderMarkdown(results: Results, cases: readonly BenchCase[]): string {
  const m = results.machine;
  const loads = Object.values(results.cases).flatMap((c) => [c.loadBefore, c.loadAfter]);
  const out: string[] = [
    '# proofmark benchmark results',
    '',
    `Generated ${results.generatedAt} by \`${results.command}\`${results.quick ? ' (quick mode: smaller sizes, fewer runs)' : ''}; ` +
      `suite wall time ${num(results.wallSeconds)} s.`,
    '',
    '## Targets',
    '',
    table(
      ['case', 'target', 'measured', 'result'],
      results.targets.map((t) => [t.case, t.target, t.figure, `**${verdictWord(t, cases)}**`]),
    ),
    '',
    'In plain words:',
    '',
    ...results.targets
      .filter((t) => !reportOf(cases, t.case)?.reportedTargets?.includes(t.id))
      .map((t) => plainLine(t, results, cases)),
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
          `1-minute load average ${num(Math.min(...loads), 2)}-${num(Math.max(...loads), 2)} over the cases (see each case)`,
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
      cases
        .filter(({ id }) => results.cases[id])
        .map(({ id }) => {
          const r = results.cases[id]!;
          return [
            id,
            r.status + (r.quick ? ' (quick)' : ''),
            num(r.wallSeconds, 1),
            `${r.loadBefore} -> ${r.loadAfter}`,
            r.measuredAt,
          ];
        }),
    ),
  ];
  cases.forEach(({ id, report }, i) => {
    const c = results.cases[id];
    if (!c) return;
    out.push('');
    if (c.status !== 'ok' || !c.result) {
      out.push(`## ${id}`, '', `**Failed (${c.status})**: ${c.error ?? 'no result'}`);
      return;
    }
    out.push(`## ${i + 1}. ${report.title}`, '', report.section(c.result as never));
  });
  return `${out.join('\n')}\n`;
}
