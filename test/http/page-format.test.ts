/** The pages' one time format: the wall-clock time in DISPLAY_TIME_ZONE with its offset then. */
import { describe, expect, it } from 'vitest';
import { formatTime, time } from '../../src/http/page/format.ts';

describe('page times', () => {
  it('shows Beijing time with its offset; the <time> element keeps the ISO instant', () => {
    expect(formatTime('2026-11-30T02:34:05.123Z', 'Asia/Shanghai')).toBe('2026-11-30 10:34:05 (UTC+08:00)');
    expect(time('2026-11-30T02:34:05.123Z', 'Asia/Shanghai').value).toBe(
      '<time datetime="2026-11-30T02:34:05.123Z"><span>2026-11-30 10:34:05</span> <span>(UTC+08:00)</span></time>',
    );
  });

  it('crosses the date line where the zone does, and shows UTC as +00:00', () => {
    expect(formatTime('2026-11-30T20:00:00.000Z', 'Asia/Shanghai')).toBe('2026-12-01 04:00:00 (UTC+08:00)');
    expect(formatTime('2026-11-30T20:00:00.000Z', 'UTC')).toBe('2026-11-30 20:00:00 (UTC+00:00)');
  });

  it('shows the offset in force at the instant: summer time, half hours, west of Greenwich', () => {
    expect(formatTime('2026-07-01T12:00:00.000Z', 'Europe/Berlin')).toBe('2026-07-01 14:00:00 (UTC+02:00)');
    expect(formatTime('2026-01-01T12:00:00.000Z', 'Europe/Berlin')).toBe('2026-01-01 13:00:00 (UTC+01:00)');
    expect(formatTime('2026-01-01T12:00:00.000Z', 'Asia/Kolkata')).toBe('2026-01-01 17:30:00 (UTC+05:30)');
    expect(formatTime('2026-01-01T00:30:00.000Z', 'America/New_York')).toBe(
      '2025-12-31 19:30:00 (UTC-05:00)',
    );
  });

  it('midnight is 00, not 24; no time is a dash; text that is no date is shown as it is', () => {
    expect(formatTime('2026-11-29T16:00:00.000Z', 'Asia/Shanghai')).toBe('2026-11-30 00:00:00 (UTC+08:00)');
    expect(time(null, 'UTC').value).toBe('—');
    expect(formatTime('not a date', 'UTC')).toBe('not a date');
  });
});
