/**
 * Proofs of leaves in final batches, kept in memory. A final batch's tree never changes, so its
 * proofs can be served without reading the store again; least recently used first out.
 */
import type { Hex } from '../core/index.ts';

export class ProofCache {
  private readonly entries = new Map<string, Hex[]>();

  constructor(private readonly maxEntries = 100_000) {}

  get(batchId: number, leafIndex: number): Hex[] | undefined {
    const key = `${batchId}:${leafIndex}`;
    const proof = this.entries.get(key);
    if (proof) {
      this.entries.delete(key);
      this.entries.set(key, proof);
    }
    return proof;
  }

  set(batchId: number, leafIndex: number, proof: Hex[]): void {
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(`${batchId}:${leafIndex}`, proof);
  }
}
