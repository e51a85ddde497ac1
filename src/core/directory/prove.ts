/**
 * Building a key's directory proof from stored pages, pure: the caller hands in a lookup by path,
 * and is told which path it lacks when the lookup has no page there (so it can read more and call
 * again). A walk reads one page per four levels of the key's path.
 */
import { bytesToHex, isBytes32, type Hex } from '../hex.ts';
import { EMPTY_DIRECTORY_ROOT } from './hashing.ts';
import {
  decodePage,
  NIBBLE_DIGITS,
  nibbleAt,
  PAGE_WIDTH,
  summarize,
  type Page,
  type PageChild,
} from './pages.ts';
import type { DirectoryProof, DirectoryProofTerminal } from './proof.ts';
import type { DirectoryPageKey } from './update.ts';
import { readValue } from './value.ts';

export type DirectoryProofSearch =
  | { proof: DirectoryProof }
  /** The lookup had no page at `missing`, which the walk needs next. */
  | { missing: DirectoryPageKey };

/**
 * The proof of `key` in the directory with root `root`, whose root page version `rootVersion`
 * stored, from its pages (`pageAt(key)`: the page's bytes, or undefined when the caller has not read
 * it).
 */
export function proveDirectoryKey(
  root: Hex,
  rootVersion: number,
  key: Hex,
  pageAt: (key: DirectoryPageKey) => Uint8Array | undefined,
): DirectoryProofSearch {
  if (!isBytes32(root) || !isBytes32(key)) throw new TypeError('root and key must be bytes32');
  if (root === EMPTY_DIRECTORY_ROOT)
    return { proof: { depth: 0, siblings: [], terminal: { kind: 'empty' } } };
  const digits = key.slice(2);
  const siblings: (Hex | null)[] = [];
  const end = (terminal: DirectoryProofTerminal) => ({
    proof: { depth: siblings.length, siblings, terminal },
  });
  for (let at: DirectoryPageKey = { version: rootVersion, path: '' }; ;) {
    const bytes = pageAt(at);
    if (!bytes) return { missing: at };
    const page = decodePage(bytes, at.path);
    const slot = nibbleAt(digits, at.path.length);
    // Down the binary levels inside the page toward `slot`: the whole page, then halves of it.
    for (let size = PAGE_WIDTH; size >= 1; size >>>= 1) {
      const within = childrenIn(page, slot & ~(size - 1), size);
      if (within.length === 0) return end({ kind: 'empty' });
      const only = within.length === 1 ? within[0]! : null;
      if (only?.leaf) return end(ending(key, only));
      if (size === 1) {
        // The child at `slot` is a page: continue in it.
        at = { version: only!.version, path: at.path + NIBBLE_DIGITS[slot] };
        break;
      }
      const half = size >>> 1;
      const sibling = summarize(page, (slot & ~(half - 1)) ^ half, half);
      siblings.push(sibling === null ? null : bytesToHex(sibling.hash));
    }
  }
}

/** The children of `page` from nibble `from` to `from + size - 1`. */
function childrenIn(page: Page, from: number, size: number): PageChild[] {
  const out: PageChild[] = [];
  for (let n = from; n < from + size; n++) if (page[n]) out.push(page[n]!);
  return out;
}

/** The walk's end at a leaf: the key's own, or another key's. */
function ending(key: Hex, leaf: PageChild & { leaf: true }): DirectoryProofTerminal {
  const leafKey = bytesToHex(leaf.key);
  const value = readValue(leaf.value, 0)!;
  return leafKey === key ? { kind: 'leaf', value } : { kind: 'other', key: leafKey, value };
}
