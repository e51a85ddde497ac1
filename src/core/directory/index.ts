/**
 * The item directory: an authenticated map from each record's key to its latest state, cumulative
 * over all batches. Pure; src/service/directory.ts stores it version by version. The storage layout
 * (pages.ts) and the hashing helpers stay inside this folder.
 */
export { assertDirectoryValue, type DirectoryValue } from './value.ts';
export { EMPTY_DIRECTORY_ROOT } from './hashing.ts';
export {
  decodeDirectoryProof,
  encodeDirectoryProof,
  PROOF_VERSION as DIRECTORY_PROOF_VERSION,
  type DirectoryProof,
  type DirectoryProofTerminal,
} from './proof.ts';
export { verifyDirectoryProof, type DirectoryVerdict } from './verify.ts';
export {
  DirectoryUpdate,
  type DirectoryBase,
  type DirectoryChange,
  type DirectoryEntry,
  type DirectoryPageKey,
  type DirectoryPageWrite,
} from './update.ts';
export { proveDirectoryKey, type DirectoryProofSearch } from './prove.ts';
export { InMemoryDirectory } from './memory.ts';
