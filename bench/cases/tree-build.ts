/**
 * Case 1, tree build: proofmark's MerkleTree.fromPacked against merkletreejs + keccak256 (sortPairs)
 * and @openzeppelin/merkle-tree's StandardMerkleTree, on identical seeded random leaves.
 *
 * Every measurement is its own child process (`node --import tsx bench/cases/tree-build.ts <impl> <n>`)
 * so that peak memory (maxRSS) belongs to that build alone. A `baseline-<impl>` child loads the same
 * modules and prepares the same input without building: net peak = build child - baseline child.
 *
 * Alone: `npx tsx bench/cases/tree-build.ts [--quick] [--json-out file]`.
 */
import { MerkleTree as ProofmarkTree } from '../../src/core/tree.ts';
import { MerkleTree as MerkleTreeJs } from 'merkletreejs';
import keccak256 from 'keccak256';
import { StandardMerkleTree } from '@openzeppelin/merkle-tree';
import { isMain, lastJsonLine, runTs } from '../lib/child.ts';
import { progress } from '../lib/log.ts';
import { packageVersion, load1 } from '../lib/machine.ts';
import { Prng } from '../lib/prng.ts';
import { round, roundSummary, summarize, type Summary } from '../lib/stats.ts';
import { caseMain, type CaseOptions, type CaseReport, type Target } from '../lib/case.ts';
import { num, spread, table } from '../lib/markdown.ts';

export const IMPLS = ['proofmark', 'merkletreejs', 'openzeppelin'] as const;
export type Impl = (typeof IMPLS)[number];
const SEED = 0x5eed_0001;
const CUT_MS = 60_000;

interface ChildOutput {
  impl: string;
  n: number;
  buildMs: number | null;
  root: string | null;
  maxRssKB: number;
}

function prepare(impl: Impl, packed: Uint8Array): unknown {
  const n = packed.length / 32;
  switch (impl) {
    case 'proofmark':
      return packed;
    case 'merkletreejs':
      // Pre-hashed leaves as Buffers, one each (copies), as a merkletreejs caller holds them.
      return Array.from({ length: n }, (_, i) => Buffer.from(packed.subarray(i * 32, i * 32 + 32)));
    case 'openzeppelin':
      return Array.from({ length: n }, (_, i) => [
        `0x${Buffer.from(packed.buffer, packed.byteOffset + i * 32, 32).toString('hex')}`,
      ]);
  }
}

function build(impl: Impl, input: unknown): string {
  switch (impl) {
    case 'proofmark':
      return ProofmarkTree.fromPacked(input as Uint8Array).root;
    case 'merkletreejs':
      return new MerkleTreeJs(input as Buffer[], keccak256, { sortPairs: true }).getHexRoot();
    case 'openzeppelin':
      return StandardMerkleTree.of(input as string[][], ['bytes32']).root;
  }
}

/** Child mode: one build (or baseline), then one JSON line on stdout. */
function child(mode: string, n: number): void {
  const baseline = mode.startsWith('baseline-');
  const impl = (baseline ? mode.slice('baseline-'.length) : mode) as Impl;
  if (!IMPLS.includes(impl)) throw new Error(`unknown implementation ${mode}`);
  const packed = new Prng(SEED).bytes(n * 32);
  const input = prepare(impl, packed);
  let buildMs: number | null = null;
  let root: string | null = null;
  if (!baseline) {
    const t0 = performance.now();
    root = build(impl, input);
    buildMs = performance.now() - t0;
  }
  const out: ChildOutput = { impl: mode, n, buildMs, root, maxRssKB: process.resourceUsage().maxRSS };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

export interface TreeBuildCell {
  impl: Impl;
  n: number;
  /** Runs that finished; a run killed at 60 s is counted in `cut` and stops further repeats. */
  runs: number;
  cut: boolean;
  cutNote: string | null;
  buildMs: Summary | null;
  peakRssMB: Summary | null;
  baselineRssMB: Summary | null;
  /** Median build peak minus median baseline peak. */
  netPeakMB: number | null;
  root: string | null;
}

export interface TreeBuildResult {
  sizes: number[];
  repeats: Record<string, number>;
  seed: number;
  cutMs: number;
  cells: TreeBuildCell[];
  /** proofmark's root equals merkletreejs' on every size (same construction). */
  rootsAgree: Record<string, boolean | null>;
  comparisons: Array<{
    n: number;
    versus: Impl;
    speedup: number | null;
    rawPeakRatio: number | null;
    netPeakRatio: number | null;
  }>;
  notes: string[];
  targets: Target[];
  versions: Record<string, string | null>;
}

async function runChild(mode: string, n: number): Promise<{ out: ChildOutput | null; cut: boolean }> {
  const r = await runTs('bench/cases/tree-build.ts', [mode, String(n)], { timeoutMs: CUT_MS });
  if (r.timedOut) return { out: null, cut: true };
  if (r.code !== 0)
    throw new Error(`tree-build child ${mode} ${n} failed (${r.code}): ${r.stderr.slice(-1000)}`);
  return { out: lastJsonLine<ChildOutput>(r.stdout), cut: false };
}

export async function runTreeBuild(opts: CaseOptions): Promise<TreeBuildResult> {
  const sizes = opts.quick ? [10_000, 100_000] : [10_000, 100_000, 1_000_000];
  const repeatsFor = (n: number, impl: Impl) => {
    if (opts.quick) return impl === 'openzeppelin' && n >= 100_000 ? 1 : 3;
    return n >= 1_000_000 ? 3 : 5;
  };
  const baselineRepeats = opts.quick ? 1 : 3;
  const cells: TreeBuildCell[] = [];
  const notes: string[] = [];
  for (const n of sizes) {
    const times = new Map<Impl, number[]>(IMPLS.map((i) => [i, []]));
    const rss = new Map<Impl, number[]>(IMPLS.map((i) => [i, []]));
    const roots = new Map<Impl, string | null>();
    const cut = new Set<Impl>();
    const maxRepeats = Math.max(...IMPLS.map((i) => repeatsFor(n, i)));
    // Round-robin, so drift in machine load spreads over every implementation alike.
    for (let rep = 0; rep < maxRepeats; rep++) {
      for (const impl of IMPLS) {
        if (cut.has(impl) || rep >= repeatsFor(n, impl)) continue;
        progress(`tree-build ${impl} n=${n} run ${rep + 1}/${repeatsFor(n, impl)} (load ${load1()})`);
        const { out, cut: wasCut } = await runChild(impl, n);
        if (wasCut || !out) {
          cut.add(impl);
          progress(`tree-build ${impl} n=${n}: cut at ${CUT_MS / 1000} s`);
          continue;
        }
        times.get(impl)!.push(out.buildMs!);
        rss.get(impl)!.push(out.maxRssKB / 1024);
        roots.set(impl, out.root);
      }
    }
    for (const impl of IMPLS) {
      const base: number[] = [];
      if (!cut.has(impl)) {
        for (let rep = 0; rep < baselineRepeats; rep++) {
          progress(`tree-build baseline-${impl} n=${n} run ${rep + 1}/${baselineRepeats}`);
          const { out } = await runChild(`baseline-${impl}`, n);
          if (out) base.push(out.maxRssKB / 1024);
        }
      }
      const t = times.get(impl)!;
      const peak = rss.get(impl)!;
      const peakS = peak.length ? summarize(peak) : null;
      const baseS = base.length ? summarize(base) : null;
      const wasCut = cut.has(impl);
      cells.push({
        impl,
        n,
        runs: t.length,
        cut: wasCut,
        cutNote: wasCut
          ? `killed at ${CUT_MS / 1000} s${t.length ? ` after ${t.length} finished run(s)` : ' on its first run'}; not repeated`
          : null,
        buildMs: t.length ? roundSummary(summarize(t), 2) : null,
        peakRssMB: peakS ? roundSummary(peakS, 1) : null,
        baselineRssMB: baseS ? roundSummary(baseS, 1) : null,
        netPeakMB: peakS && baseS ? round(peakS.median - baseS.median, 1) : null,
        root: roots.get(impl) ?? null,
      });
    }
  }

  const cell = (impl: Impl, n: number) => cells.find((c) => c.impl === impl && c.n === n)!;
  const rootsAgree: Record<string, boolean | null> = {};
  const comparisons: TreeBuildResult['comparisons'] = [];
  for (const n of sizes) {
    const pm = cell('proofmark', n);
    const mt = cell('merkletreejs', n);
    rootsAgree[String(n)] = pm.root && mt.root ? pm.root === mt.root : null;
    for (const versus of ['merkletreejs', 'openzeppelin'] as const) {
      const other = cell(versus, n);
      comparisons.push({
        n,
        versus,
        speedup: pm.buildMs && other.buildMs ? round(other.buildMs.median / pm.buildMs.median, 2) : null,
        rawPeakRatio:
          pm.peakRssMB && other.peakRssMB ? round(other.peakRssMB.median / pm.peakRssMB.median, 2) : null,
        netPeakRatio:
          pm.netPeakMB !== null && other.netPeakMB !== null && pm.netPeakMB > 0
            ? round(other.netPeakMB / pm.netPeakMB, 2)
            : null,
      });
    }
  }
  notes.push(
    'Identical input everywhere: n leaves of 32 seeded random bytes. proofmark takes them packed in one Uint8Array; ' +
      'merkletreejs takes one Buffer per leaf (`new MerkleTree(leaves, keccak256, { sortPairs: true })`); ' +
      'OpenZeppelin takes `[["0x…"], …]` for `StandardMerkleTree.of(values, [\'bytes32\'])`. Preparing the input is not timed.',
    "OpenZeppelin's StandardMerkleTree hashes every leaf itself (double keccak of the ABI encoding) and sorts the leaves, " +
      'so it does more work than the other two and its root differs by design; it is here for scale, not like for like.',
    'Peak memory is the child process maxRSS at exit. The baseline child loads the same modules and prepares the same ' +
      'input without building; net = median build peak - median baseline peak.',
  );
  for (const c of cells)
    if (c.cut) notes.push(`${c.impl} at ${c.n.toLocaleString('en')} leaves: ${c.cutNote}.`);

  const targets: Target[] = [];
  const big = sizes.at(-1)!;
  const cmp = comparisons.find((c) => c.n === big && c.versus === 'merkletreejs')!;
  const pmBig = cell('proofmark', big);
  const mtBig = cell('merkletreejs', big);
  const sizeLabel = `${big.toLocaleString('en')} leaves`;
  const full = big === 1_000_000;
  targets.push({
    id: 'tree-speed',
    case: 'tree-build',
    target: '1M leaves at least 5x faster than merkletreejs + keccak256',
    figure:
      cmp.speedup !== null
        ? `${cmp.speedup}x faster at ${sizeLabel} (${pmBig.buildMs!.median} ms vs ${mtBig.buildMs!.median} ms, medians)`
        : mtBig.cut
          ? `merkletreejs was cut at 60 s; proofmark took ${pmBig.buildMs?.median} ms`
          : 'not measured',
    pass: cmp.speedup !== null ? cmp.speedup >= 5 : mtBig.cut && pmBig.buildMs !== null ? true : null,
    provisional: !full,
  });
  targets.push({
    id: 'tree-memory',
    case: 'tree-build',
    target: '1M leaves with at least 3x less peak memory than merkletreejs + keccak256',
    figure:
      cmp.netPeakRatio !== null
        ? `${cmp.netPeakRatio}x less at ${sizeLabel} (net ${pmBig.netPeakMB} MB vs ${mtBig.netPeakMB} MB; raw ${pmBig.peakRssMB!.median} MB vs ${mtBig.peakRssMB!.median} MB, ${cmp.rawPeakRatio}x)`
        : 'not measured',
    pass: cmp.netPeakRatio !== null ? cmp.netPeakRatio >= 3 : null,
    provisional: !full,
  });
  return {
    sizes,
    repeats: Object.fromEntries(sizes.flatMap((n) => IMPLS.map((i) => [`${i}@${n}`, repeatsFor(n, i)]))),
    seed: SEED,
    cutMs: CUT_MS,
    cells,
    rootsAgree,
    comparisons,
    notes,
    targets,
    versions: {
      merkletreejs: packageVersion('merkletreejs'),
      keccak256: packageVersion('keccak256'),
      '@openzeppelin/merkle-tree': packageVersion('@openzeppelin/merkle-tree'),
      'hash-wasm': packageVersion('hash-wasm'),
    },
  };
}

/** The report's section: build time and memory by implementation and size, then the ratios. */
export const treeBuildReport: CaseReport<TreeBuildResult> = {
  title: 'Tree build',
  section: (r) =>
    [
      table(
        [
          'implementation',
          'leaves',
          'build ms: median (min-max, runs)',
          'peak RSS MB',
          'baseline RSS MB',
          'net peak MB',
        ],
        r.cells.map((c) => [
          c.impl,
          num(c.n),
          c.cut ? `cut: ${c.cutNote}` : spread(c.buildMs, 1),
          spread(c.peakRssMB, 1),
          spread(c.baselineRssMB, 1),
          num(c.netPeakMB, 1),
        ]),
      ),
      '',
      'proofmark against each other implementation (how many times faster; how many times less net / raw peak memory):',
      '',
      table(
        ['leaves', 'versus', 'speed', 'net memory', 'raw memory'],
        r.comparisons.map((c) => [
          num(c.n),
          c.versus,
          c.speedup === null ? '-' : `${c.speedup}x`,
          c.netPeakRatio === null ? '-' : `${c.netPeakRatio}x`,
          c.rawPeakRatio === null ? '-' : `${c.rawPeakRatio}x`,
        ]),
      ),
      '',
      `Roots: proofmark equals merkletreejs at ${Object.entries(r.rootsAgree)
        .map(([size, ok]) => `${num(Number(size))}: ${ok === null ? 'not compared' : ok ? 'yes' : 'NO'}`)
        .join(', ')}. Seed ${r.seed}; each run is a fresh child process; cut at ${r.cutMs / 1000} s.`,
      '',
      ...r.notes.map((x) => `- ${x}`),
    ].join('\n'),
};

if (isMain(import.meta.url)) {
  const mode = process.argv[2];
  if (mode && !mode.startsWith('--')) child(mode, Number(process.argv[3]));
  else await caseMain(runTreeBuild);
}
