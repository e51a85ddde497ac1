/**
 * The tree builder's worker thread (see tree-builder.ts): receives packed leaves, answers with the
 * tree, its levels transferred back; and runs a seal's directory update (directory-job.ts) a call
 * at a time, answering each call with its result or its error.
 */
import { parentPort } from 'node:worker_threads';
import { MerkleTree } from '../core/index.ts';
import type { SealedTree } from '../storage/rows.ts';
import { DirectoryJob, unpackBytes, type PackedChange, type PackedKeys } from './directory-job.ts';
import type { DirectoryCall, DirectoryReply } from './tree-builder.ts';

let job: DirectoryJob | null = null;

parentPort!.on('message', (message: Uint8Array | DirectoryCall) => {
  if (message instanceof Uint8Array) {
    const tree = MerkleTree.fromPacked(message);
    const answer: SealedTree = { root: tree.root, levels: tree.levels };
    parentPort!.postMessage(
      answer,
      tree.levels.map((level) => level.buffer as ArrayBuffer),
    );
    return;
  }
  let value: PackedKeys | PackedChange | null;
  try {
    value = directoryCall(message);
  } catch (err) {
    const reply: DirectoryReply = { ok: false, error: err instanceof Error ? err.message : String(err) };
    parentPort!.postMessage(reply);
    return;
  }
  // A result's pages go back transferred, not copied.
  const buffers = value && 'pages' in value ? [value.pages.bytes.buffer as ArrayBuffer] : [];
  parentPort!.postMessage({ ok: true, value } satisfies DirectoryReply, buffers);
});

function directoryCall(call: DirectoryCall): PackedKeys | PackedChange | null {
  switch (call.op) {
    case 'start':
      job = new DirectoryJob(call.base, call.version);
      return null;
    case 'add':
      job!.add(call.events);
      return null;
    case 'give':
      job!.give(unpackBytes(call.pages));
      return null;
    case 'next':
      return job!.next();
    case 'result':
      return job!.result();
    case 'end':
      job = null;
      return null;
  }
}
