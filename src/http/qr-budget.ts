/**
 * Rendering QR codes takes the event loop from every other request (the qrcode package's PNG took
 * 10 ms a code, and 16 connections asking for them pushed verdict latency from 2 to 150 ms; qr-png.ts
 * now takes a tenth of that). A record's code never changes, so rendered codes are kept (least
 * recently used first out, bounded in bytes), and what must be rendered anew is held to a budget per
 * second for the whole instance, whoever asks, so no number of clients or addresses adds up to more.
 */

/** Rendered codes by key, least recently used first out, at most `maxBytes` in all. */
export class RenderedCodes {
  private readonly entries = new Map<string, Buffer>();
  private bytes = 0;

  constructor(private readonly maxBytes = 8 * 1024 * 1024) {}

  get(key: string): Buffer | undefined {
    const code = this.entries.get(key);
    if (code) {
      this.entries.delete(key);
      this.entries.set(key, code);
    }
    return code;
  }

  set(key: string, code: Buffer): void {
    if (code.length > this.maxBytes) return;
    const old = this.entries.get(key);
    if (old) {
      this.entries.delete(key);
      this.bytes -= old.length;
    }
    while (this.bytes + code.length > this.maxBytes) {
      const [oldestKey, oldest] = this.entries.entries().next().value!;
      this.entries.delete(oldestKey);
      this.bytes -= oldest.length;
    }
    this.entries.set(key, code);
    this.bytes += code.length;
  }
}

/**
 * A token bucket: `perSecond` renders a second, and a burst of as many when it has been idle. Shared
 * by every client of the instance, so many addresses cannot add up to more.
 */
export class RenderBudget {
  private tokens: number;
  private lastAt: number;

  constructor(
    private readonly perSecond: number,
    private readonly clock: () => number = () => performance.now(),
  ) {
    this.tokens = perSecond;
    this.lastAt = clock();
  }

  /** Spends one render if the budget has one; false when it is spent for now. */
  take(): boolean {
    const now = this.clock();
    this.tokens = Math.min(this.perSecond, this.tokens + ((now - this.lastAt) / 1000) * this.perSecond);
    this.lastAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
