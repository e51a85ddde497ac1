/**
 * docs/guarantees.md names the tests that hold each promise: every file it names must exist, and
 * every test title it quotes must be in one of them, so the document cannot drift from the suite.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const doc = readFileSync(join(ROOT, 'docs', 'guarantees.md'), 'utf8').replace(/\s*\n\s*/g, ' ');

function testFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? testFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

describe('docs/guarantees.md', () => {
  it('names only test files that exist', () => {
    const named = [...doc.matchAll(/`((?:test|bench|src)\/[\w./-]+\.ts)`/g)].map((m) => m[1]!);
    expect(named.length).toBeGreaterThan(15);
    for (const path of named) expect(existsSync(join(ROOT, path)), path).toBe(true);
    // Short names ("crash-points.node.test.ts") resolve within test/.
    const all = testFiles('test').map((p) => p.split('/').pop());
    for (const [, short] of doc.matchAll(/`([\w.-]+\.test\.ts)`/g)) expect(all, short).toContain(short);
  });

  it('quotes only test titles that exist', () => {
    const sources = testFiles('test')
      .map((p) => readFileSync(join(ROOT, p), 'utf8'))
      .join('\n')
      .replace(/\s*\n\s*/g, ' ');
    const quoted = [...doc.matchAll(/\("([^"]+)"/g), ...doc.matchAll(/, "([^"]+)"/g)].map((m) =>
      m[1]!.replace(/…$/, ''),
    );
    expect(quoted.length).toBeGreaterThan(5);
    for (const title of quoted) expect(sources.includes(title), title).toBe(true);
  });
});
