/**
 * The PNG writer of QR codes (src/http/qr-png.ts) against the qrcode package's own: the same picture,
 * pixel for pixel, for URLs of the lengths the service makes, in a smaller file and less time.
 */
import { PNG } from 'pngjs';
import QRCode from 'qrcode';
import { describe, expect, it } from 'vitest';
import { qrPng } from '../../src/http/qr-png.ts';

const OPTIONS = { errorCorrectionLevel: 'M', margin: 4, scale: 8 } as const;
const URLS = [
  'http://proofmark.test/v/abc',
  `http://127.0.0.1:8080/v/${'x'.repeat(43)}`,
  `https://verify.example.com/v/${'AbC_-'.repeat(12)}`,
];

describe('qrPng', () => {
  it.each(URLS)('draws the same picture as the qrcode package: %s', async (url) => {
    const theirs = await QRCode.toBuffer(url, { ...OPTIONS, type: 'png' });
    const ours = qrPng(url, OPTIONS);
    const [a, b] = [PNG.sync.read(theirs), PNG.sync.read(ours)];
    expect([b.width, b.height]).toEqual([a.width, a.height]);
    const dark = (png: PNG) =>
      Array.from({ length: png.width * png.height }, (_, i) => png.data[i * 4]! < 128);
    expect(dark(b)).toEqual(dark(a));
    expect(ours.length).toBeLessThan(theirs.length);
  });
});
