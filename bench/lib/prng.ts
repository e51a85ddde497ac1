/** A small seeded PRNG (sfc32), so every implementation and every run sees the same "random" input. */

export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = seed >>> 0;
    for (let i = 0; i < 15; i++) this.nextU32();
  }

  nextU32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor((this.nextU32() / 0x1_0000_0000) * n);
  }

  bytes(length: number): Uint8Array {
    const out = new Uint8Array(length);
    const words = new Uint32Array(out.buffer, 0, Math.floor(length / 4));
    for (let i = 0; i < words.length; i++) words[i] = this.nextU32();
    for (let i = words.length * 4; i < length; i++) out[i] = this.nextU32() & 0xff;
    return out;
  }
}
