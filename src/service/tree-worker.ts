/**
 * The tree builder's worker thread (see tree-builder.ts): receives packed leaves, answers with the
 * tree, its levels transferred back.
 */
import { parentPort } from 'node:worker_threads';
import { MerkleTree } from '../core/index.ts';
import type { SealedTree } from '../storage/rows.ts';

parentPort!.on('message', (leaves: Uint8Array) => {
  const tree = MerkleTree.fromPacked(leaves);
  const answer: SealedTree = { root: tree.root, levels: tree.levels };
  parentPort!.postMessage(
    answer,
    tree.levels.map((level) => level.buffer as ArrayBuffer),
  );
});
