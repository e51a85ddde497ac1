/** Progress goes to stderr, so stdout stays free for machine-readable output. */
const started = Date.now();

export function progress(message: string): void {
  const s = ((Date.now() - started) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`[bench ${s}s] ${message}\n`);
}
