/**
 * The verification page's script, bundled once at start, in memory, from browser-check.ts and the
 * same pure core the server and CLI use (no second implementation). Served at a path named by its
 * hash, cached for a year, and allowed by that sha256 in the page's CSP (with SRI on the tag).
 * `'wasm-unsafe-eval'` lets the core's keccak (hash-wasm) compile its WebAssembly; it does not allow
 * eval of JavaScript.
 */
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export interface BrowserCheck {
  /** The bundled ES module. */
  code: string;
  /** base64 sha256 of `code`: the CSP source and the tag's integrity. */
  sha256: string;
  /** Where the page loads it from: /assets/check-<hash>.js. */
  path: string;
  /** PUBLIC_RPC_URL, the browser's window on the chain. */
  rpcUrl: string;
  /** Its origin, the only host besides 'self' in connect-src. */
  rpcOrigin: string;
}

const ENTRY = fileURLToPath(new URL('./browser-check.ts', import.meta.url));
const BUFFER_SHIM = fileURLToPath(new URL('./browser-buffer.ts', import.meta.url));

export async function bundleBrowserCheck(rpcUrl: string): Promise<BrowserCheck> {
  const result = await build({
    entryPoints: [ENTRY],
    bundle: true,
    write: false,
    format: 'esm', // the core's keccak instantiates its WebAssembly with top-level await
    platform: 'browser',
    target: 'es2022',
    minify: true,
    legalComments: 'none',
    inject: [BUFFER_SHIM], // the core's hex codec calls Node's Buffer
    logLevel: 'silent',
  });
  const code = result.outputFiles[0]!.text;
  const digest = createHash('sha256').update(code, 'utf8').digest();
  return {
    code,
    sha256: digest.toString('base64'),
    path: `/assets/check-${digest.toString('hex').slice(0, 16)}.js`,
    rpcUrl,
    rpcOrigin: new URL(rpcUrl).origin,
  };
}
