/**
 * Summarises a V8 .cpuprofile (from `node --import tsx --cpu-prof ...`): self time by function and
 * inclusive time by function, top N. Usage: tsx bench/tools/cpuprofile-top.ts <file.cpuprofile> [N] [skipMs]
 */
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** `skipMs`: ignore the first milliseconds of the profile (process start-up, fixtures). */
export function summarise(profile: Profile, top = 25, skipMs = 0): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  let elapsed = 0;
  profile.samples.forEach((id, i) => {
    elapsed += profile.timeDeltas[i] ?? 0;
    if (elapsed < skipMs * 1000) return;
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const label = (n: ProfileNode) => {
    const file = n.callFrame.url.replace(/^file:\/\//, '').replace(process.cwd() + '/', '');
    return `${n.callFrame.functionName || '(anonymous)'} ${file}:${n.callFrame.lineNumber + 1}`;
  };
  const selfBy = new Map<string, number>();
  const inclBy = new Map<string, number>();
  let total = 0;
  for (const [id, us] of self) {
    total += us;
    const node = byId.get(id)!;
    selfBy.set(label(node), (selfBy.get(label(node)) ?? 0) + us);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const l = label(byId.get(cur)!);
      if (seen.has(l)) continue;
      seen.add(l);
      inclBy.set(l, (inclBy.get(l) ?? 0) + us);
    }
  }
  const fmt = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(
        ([l, us]) =>
          `${(us / 1000).toFixed(1).padStart(9)} ms ${((100 * us) / total).toFixed(1).padStart(5)}%  ${l}`,
      )
      .join('\n');
  return `total ${(total / 1000).toFixed(1)} ms\n-- self --\n${fmt(selfBy)}\n-- inclusive --\n${fmt(inclBy)}`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const file = process.argv[2];
  if (!file) throw new Error('usage: cpuprofile-top.ts <file.cpuprofile> [N] [skipMs]');
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  console.log(summarise(profile, Number(process.argv[3] ?? 25), Number(process.argv[4] ?? 0)));
}
