/**
 * Evidence files of a dispute: images or PDF, checked by their first bytes (not by what the client
 * claims), limited in size and number, kept by the service with their SHA-256 in the step's anchored
 * event, so neither side can alter one later without the hash giving it away.
 */
import { createHash } from 'node:crypto';
import { badRequest, ServiceError } from '../errors.ts';

/** Bytes one evidence file may hold. */
export const MAX_EVIDENCE_BYTES = 2 * 1024 * 1024;
/** Files one side may attach to one step (the buyer's opening, the merchant's answer). */
export const MAX_EVIDENCE_FILES = 4;

/** A file as received: its bytes and nothing else trusted. */
export interface EvidenceUpload {
  bytes: Uint8Array;
}

export interface EvidenceFile {
  contentType: string;
  size: number;
  sha256: string;
  bytes: Uint8Array;
}

const SIGNATURES: ReadonlyArray<{ type: string; test: (b: Uint8Array) => boolean }> = [
  { type: 'image/png', test: (b) => starts(b, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]) },
  { type: 'image/jpeg', test: (b) => starts(b, [0xff, 0xd8, 0xff]) },
  {
    type: 'image/webp',
    test: (b) => starts(b, [0x52, 0x49, 0x46, 0x46]) && ascii(b, 8, 4) === 'WEBP',
  },
  { type: 'application/pdf', test: (b) => starts(b, [0x25, 0x50, 0x44, 0x46, 0x2d]) },
];

function starts(bytes: Uint8Array, prefix: readonly number[]): boolean {
  return bytes.length >= prefix.length && prefix.every((v, i) => bytes[i] === v);
}

function ascii(bytes: Uint8Array, from: number, length: number): string {
  return Buffer.from(bytes.subarray(from, from + length)).toString('latin1');
}

/** The content type the file's first bytes show, or null for anything but PNG, JPEG, WebP or PDF. */
export function sniffEvidenceType(bytes: Uint8Array): string | null {
  return SIGNATURES.find((s) => s.test(bytes))?.type ?? null;
}

/**
 * The uploads checked and hashed: 400 too_many_files past MAX_EVIDENCE_FILES, 413 file_too_large
 * past MAX_EVIDENCE_BYTES, 400 unsupported_file for anything not an image or PDF, 400 empty_file.
 */
export function checkEvidence(uploads: readonly EvidenceUpload[]): EvidenceFile[] {
  if (uploads.length > MAX_EVIDENCE_FILES) {
    throw badRequest(
      'too_many_files',
      `at most ${MAX_EVIDENCE_FILES} evidence files may be attached to one step`,
    );
  }
  return uploads.map(({ bytes }, i) => {
    if (bytes.length === 0) throw badRequest('empty_file', `evidence file ${i + 1} is empty`);
    if (bytes.length > MAX_EVIDENCE_BYTES) {
      throw new ServiceError(
        413,
        'file_too_large',
        `evidence file ${i + 1} is over ${MAX_EVIDENCE_BYTES} bytes`,
      );
    }
    const contentType = sniffEvidenceType(bytes);
    if (contentType === null) {
      throw badRequest(
        'unsupported_file',
        `evidence file ${i + 1} is not a PNG, JPEG or WebP image or a PDF`,
      );
    }
    return { contentType, size: bytes.length, sha256: sha256Of(bytes), bytes };
  });
}

export function sha256Of(bytes: Uint8Array | string): string {
  return `0x${createHash('sha256').update(bytes).digest('hex')}`;
}

/** The files' hashes as flat event data: evidence_1, evidence_2, ... (event data is flat). */
export function evidenceData(files: readonly EvidenceFile[]): Record<string, string> {
  return Object.fromEntries(files.map((f, i) => [`evidence_${i + 1}`, f.sha256]));
}
