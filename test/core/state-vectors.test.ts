/**
 * The committed state-proof and bundle v2 vectors (test/vectors/state-*.json, docs/proof-format.md
 * §10): read from disk every run, judged by core's verifyBundleV2 and checkFreshness, and still
 * exactly what scripts/make-state-vectors.ts builds. Every v2 bundle's v1 part still verifies under
 * the v1 rules.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildStateVectors, STATE_VECTOR_PREFIX } from '../../scripts/make-state-vectors.ts';
import { VECTORS_DIR } from '../../scripts/make-vectors.ts';
import {
  asV1,
  checkFreshness,
  verifyBundle,
  verifyBundleV2,
  type AnchoredState,
  type Hex,
  type ProofBundleV2,
} from '../../src/core/index.ts';

const files = readdirSync(VECTORS_DIR)
  .filter((name) => name.startsWith(STATE_VECTOR_PREFIX) && name.endsWith('.json'))
  .sort()
  .map((name) => ({ name, text: readFileSync(join(VECTORS_DIR, name), 'utf8') }));
const parsed = files.map(({ name, text }) => [name, JSON.parse(text) as Record<string, unknown>] as const);
const bundles = parsed.filter(([, v]) => 'bundleV2' in v);
const freshness = parsed.filter(([, v]) => 'answer' in v);

describe('test/vectors/state-*', () => {
  it('are exactly what scripts/make-state-vectors.ts builds, and cover each case', () => {
    expect(new Map(files.map(({ name, text }) => [name, text]))).toEqual(buildStateVectors());
    expect(bundles.length).toBeGreaterThanOrEqual(3);
    const statuses = freshness.map(([, v]) => (v.expected as { status: string }).status);
    expect(new Set(statuses)).toEqual(new Set(['current', 'superseded', 'unconfirmed']));
  });

  it.each(bundles)('%s: verifyBundleV2 gives the expected verdict', (_name, v) => {
    const verdict = verifyBundleV2(v.bundleV2);
    expect(verdict).toMatchObject(v.expected as object);
    // Its v1 part is a v1 bundle under the v1 rules, whatever the state says.
    expect(verifyBundle(asV1(v.bundleV2 as ProofBundleV2)).valid).toBe(true);
  });

  it.each(freshness)('%s: checkFreshness gives the expected verdict', (_name, v) => {
    const event = v.event as { recordId: string; seq: number; leaf: Hex };
    const verdict = checkFreshness(event, v.anchored as AnchoredState, v.answer);
    if ((v.expected as { status: string }).status === 'unconfirmed') {
      expect(verdict.status).toBe('unconfirmed');
    } else {
      expect(verdict).toEqual(v.expected);
    }
  });
});
