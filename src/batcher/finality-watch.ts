/**
 * Watches the node's finality mark (its safe or finalized block) advance. While it stands still no
 * batch becomes final, however deep its block: after FINALITY_STALL_MS without an advance this says
 * so in words (GET /healthz), and its age is a figure the metrics show.
 */
import type { FinalityTag } from '../chain/finality.ts';

export class FinalityWatch {
  private mark: number | null = null;
  /** When the mark was first seen or last advanced (ms), or null before the first reading. */
  private since: number | null = null;

  constructor(
    readonly tag: FinalityTag,
    private readonly stallMs: number,
  ) {}

  /** Records a reading of the node's `tag` block (null: it has none) taken at `now` (ms). */
  saw(block: number | null, now: number): void {
    const advanced = block !== null && (this.mark === null || block > this.mark);
    if (this.since === null || advanced) {
      this.mark = block;
      this.since = now;
    }
  }

  /** Seconds since the mark last advanced, or null before the first reading. */
  ageSeconds(now: number): number | null {
    return this.since === null ? null : (now - this.since) / 1000;
  }

  /** What /healthz says once the mark has stood still for longer than FINALITY_STALL_MS, else null. */
  stalled(now: number): string | null {
    const age = this.ageSeconds(now);
    if (age === null || age * 1000 <= this.stallMs) return null;
    const where = this.mark === null ? `it has no ${this.tag} block` : `still block ${this.mark}`;
    return (
      `the node's ${this.tag} block has not advanced for ${formatSeconds(age)} (${where}; ` +
      `FINALITY_STALL_MS is ${formatSeconds(this.stallMs / 1000)}): no batch becomes final until it does`
    );
  }
}

function formatSeconds(seconds: number): string {
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}
