/** Leaves as the service computes them, from content it has already made canonical. */
import { keccak256Hex, leafOfHashedContent, utf8, type Hex } from '../core/index.ts';

/** The leaf of an event whose content is already canonical JSON: each content is canonicalised once. */
export function leafOfJson(recordId: string, seq: number, prevLeaf: Hex, contentJson: string): Hex {
  return leafOfHashedContent(recordId, seq, prevLeaf, keccak256Hex(utf8(contentJson)));
}
