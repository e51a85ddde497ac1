/**
 * Builds batch trees off the event loop. A 1M-leaf tree takes about a second of hashing; on the
 * API's thread that second would stall every request, so trees above a few thousand leaves are built
 * in a worker thread (the core's MerkleTree is pure, so the worker runs the very same code) and the
 * levels come back transferred, not copied. Small trees are built inline: posting them costs more
 * than hashing them.
 */
import { Worker } from 'node:worker_threads';
import { MerkleTree, NODE_SIZE, type DirectoryBase } from '../core/index.ts';
import type { BatchEventRow, SealedTree } from '../storage/rows.ts';
import {
  DirectoryJob,
  packBytes,
  type PackedChange,
  type PackedKeys,
  type PackedPages,
} from './directory-job.ts';

/** Up to this many leaves a tree is built inline: about 5 ms of hashing. */
export const INLINE_LEAVES = 4096;

/** The tree of `leaves` (packed 32 bytes each), built on this thread. */
export function buildInline(leaves: Uint8Array): SealedTree {
  const tree = MerkleTree.fromPacked(leaves);
  return { root: tree.root, levels: tree.levels };
}

/**
 * A seal's directory update (directory-job.ts) run a call at a time, here or in the worker: events,
 * then rounds of next() and the pages it names (give), then result(). close() when done, always (a
 * second close does nothing).
 */
export interface DirectorySession {
  add(events: readonly BatchEventRow[]): Promise<void>;
  give(pages: readonly Uint8Array[]): Promise<void>;
  next(): Promise<PackedKeys>;
  result(): Promise<PackedChange>;
  close(): Promise<void>;
}

/** A directory session on this thread. */
export function inlineDirectory(base: DirectoryBase | null, version: number): DirectorySession {
  const job = new DirectoryJob(base, version);
  return {
    add: async (events) => job.add(events),
    give: async (pages) => job.give(pages),
    next: async () => job.next(),
    result: async () => job.result(),
    close: async () => {},
  };
}

/** A call to the worker's directory job (tree-worker.ts), and its answer. */
export type DirectoryCall =
  | { op: 'start'; base: DirectoryBase | null; version: number }
  | { op: 'add'; events: readonly BatchEventRow[] }
  | { op: 'give'; pages: PackedPages }
  | { op: 'next' }
  | { op: 'result' }
  | { op: 'end' };
export type DirectoryReply =
  { ok: true; value: PackedKeys | PackedChange | null } | { ok: false; error: string };

export class TreeBuilder {
  private worker: Worker | null = null;
  /** Builds run one at a time, in order: the worker answers them in the order asked. */
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  /**
   * The tree of `leaves` (packed 32 bytes each, in leaf order). Above INLINE_LEAVES it is built in
   * the worker, which takes `leaves` over: the caller must not use them afterwards (use the returned
   * levels[0]).
   */
  build(leaves: Uint8Array): Promise<SealedTree> {
    if (leaves.length / NODE_SIZE <= INLINE_LEAVES) return Promise.resolve(buildInline(leaves));
    const built = this.queue.then(() => this.inWorker(leaves));
    this.queue = built.catch(() => {});
    return built;
  }

  /**
   * A directory session in the worker (inline once closed). It holds the worker until closed: trees
   * asked for meanwhile wait for it.
   */
  async directory(base: DirectoryBase | null, version: number): Promise<DirectorySession> {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const before = this.queue;
    this.queue = before.then(() => held);
    await before;
    if (this.closed) {
      release();
      return inlineDirectory(base, version);
    }
    const worker = (this.worker ??= startWorker());
    worker.ref();
    let ended = false;
    const call = <T>(message: DirectoryCall, transfer: ArrayBuffer[] = []): Promise<T> =>
      new Promise<T>((resolve, reject) => {
        const onMessage = (reply: DirectoryReply) => {
          worker.off('error', onError);
          if (reply.ok) resolve(reply.value as T);
          else reject(new Error(reply.error));
        };
        const onError = (err: Error) => {
          worker.off('message', onMessage);
          if (this.worker === worker) this.worker = null;
          reject(err);
        };
        worker.once('message', onMessage);
        worker.once('error', onError);
        worker.postMessage(message, transfer);
      });
    try {
      await call({ op: 'start', base, version });
    } catch (err) {
      worker.unref();
      release();
      throw err;
    }
    return {
      add: (events) => call({ op: 'add', events }),
      give: (pages) => {
        const packed = packBytes(pages);
        return call({ op: 'give', pages: packed }, [packed.bytes.buffer as ArrayBuffer]);
      },
      next: () => call<PackedKeys>({ op: 'next' }),
      result: () => call<PackedChange>({ op: 'result' }),
      close: async () => {
        if (ended) return;
        ended = true;
        // The job's memory goes with it; a worker that failed is gone already.
        if (this.worker === worker) await call({ op: 'end' }).catch(() => {});
        worker.unref();
        release();
      },
    };
  }

  /** Stops the worker; builds after this run inline. */
  async close(): Promise<void> {
    this.closed = true;
    await this.queue;
    await this.worker?.terminate();
    this.worker = null;
  }

  private async inWorker(leaves: Uint8Array): Promise<SealedTree> {
    if (this.closed) return buildInline(leaves);
    const worker = (this.worker ??= startWorker());
    // Transfer only a buffer the leaves own: a view into a shared pool would take the pool along.
    const own = leaves.byteOffset === 0 && leaves.byteLength === leaves.buffer.byteLength;
    const sent = own ? leaves : leaves.slice();
    // The worker is unreferenced while idle, so it never keeps a finished process alive.
    worker.ref();
    try {
      return await new Promise<SealedTree>((resolve, reject) => {
        const onMessage = (tree: SealedTree) => {
          worker.off('error', onError);
          resolve(tree);
        };
        const onError = (err: Error) => {
          worker.off('message', onMessage);
          this.worker = null;
          reject(err);
        };
        worker.once('message', onMessage);
        worker.once('error', onError);
        worker.postMessage(sent, [sent.buffer as ArrayBuffer]);
      });
    } finally {
      worker.unref();
    }
  }
}

/**
 * Starts the worker. A worker thread does not inherit the loader that runs this TypeScript (tsx),
 * so a small JavaScript bootstrap registers it before importing the worker's module.
 */
function startWorker(): Worker {
  const tsx = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./tree-worker.ts', import.meta.url).href;
  const bootstrap = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(entry)}); });`;
  const worker = new Worker(bootstrap, { eval: true });
  worker.unref();
  return worker;
}
