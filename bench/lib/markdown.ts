/** Number, spread and table formatting for the markdown report, shared by every case's section. */
import type { Summary } from './stats.ts';

/** A number in English digit grouping with at most `digits` decimals; '-' when there is none. */
export const num = (v: number | null | undefined, digits = 0): string =>
  v === null || v === undefined || !Number.isFinite(v)
    ? '-'
    : v.toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: 0 });

/** "median (min-max, n=runs)"; '-' when there is no summary. */
export const spread = (s: Summary | null | undefined, digits = 0): string =>
  s ? `${num(s.median, digits)} (${num(s.min, digits)}-${num(s.max, digits)}, n=${s.n})` : '-';

/** A markdown table. */
export const table = (head: string[], rows: string[][]): string =>
  [
    `| ${head.join(' | ')} |`,
    `| ${head.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
