/** The pure core: no I/O, no clock, no randomness. Callers pass time and salts in. */
export * from './hex.ts';
export * from './keccak.ts';
export * from './jcs.ts';
export * from './leaf.ts';
export * from './tree.ts';
export * from './bundle.ts';
export * from './verify.ts';
export * from './lifecycle.ts';
export * from './directory/index.ts';
export * from './merchant-credit.ts';
export * from './state.ts';
export * from './blind-index.ts';
