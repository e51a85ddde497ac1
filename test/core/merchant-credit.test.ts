/** The credit figures from synthetic counts and dispute events: shares, losses, median response. */
import { describe, expect, it } from 'vitest';
import { creditFigures, median, share, type DisputeEvent } from '../../src/core/index.ts';

const T0 = Date.parse('2026-11-30T00:00:00.000Z');
const at = (seconds: number) => new Date(T0 + seconds * 1000).toISOString();

function ev(recordId: string, seq: number, type: string, seconds: number, data: object = {}): DisputeEvent {
  return { recordId, seq, type, content: JSON.stringify({ at: at(seconds), data, salt: '0x00', type }) };
}

const counts = { issued: 8, revoked: 1, refunded: 3 };

describe('merchant credit figures', () => {
  it('median of none is null, of odd counts the middle, of even counts the mean of the middle two', () => {
    expect(median([])).toBeNull();
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 10])).toBe(3.5);
  });

  it('shares are rounded to 4 places, null over nothing issued', () => {
    expect(share(1, 3)).toBe(0.3333);
    expect(share(0, 0)).toBeNull();
    expect(creditFigures({ issued: 0, revoked: 0, refunded: 0 }, [])).toEqual({
      itemsIssued: 0,
      revoked: 0,
      revokedShare: null,
      refunded: 0,
      refundedShare: null,
      disputesOpened: 0,
      disputesLost: 0,
      disputesAnswered: 0,
      medianResponseSeconds: null,
    });
  });

  it('pairs each answer with the opening before it on the same item, in any input order', () => {
    const events = [
      ev('r2', 3, 'dispute_answered', 100 + 3600), // an hour
      ev('r1', 1, 'dispute_opened', 0),
      ev('r1', 2, 'dispute_answered', 60), // a minute
      ev('r1', 3, 'dispute_decided', 70, { decision: 'merchant' }),
      ev('r2', 2, 'dispute_opened', 100),
      ev('r2', 4, 'dispute_decided', 4000, { decision: 'buyer' }),
      // Unanswered, decided for the buyer at the deadline: lost, no response time.
      ev('r3', 1, 'dispute_opened', 0),
      ev('r3', 2, 'dispute_decided', 86_400, { decision: 'buyer' }),
      // An answer with no opening on its item counts no time.
      ev('r4', 1, 'dispute_answered', 5),
      // A second dispute on r1 after the first was decided, answered in 3 minutes.
      ev('r1', 4, 'dispute_opened', 1000),
      ev('r1', 5, 'dispute_answered', 1180),
    ];
    expect(creditFigures(counts, events)).toEqual({
      itemsIssued: 8,
      revoked: 1,
      revokedShare: 0.125,
      refunded: 3,
      refundedShare: 0.375,
      disputesOpened: 4,
      disputesLost: 2,
      disputesAnswered: 3,
      medianResponseSeconds: 180,
    });
  });

  it('content that does not parse (erased) still counts by type but gives no time or decision', () => {
    const erased = { recordId: 'r1', seq: 2, type: 'dispute_answered', content: '{"erased":true' };
    const decided = { recordId: 'r1', seq: 3, type: 'dispute_decided', content: 'not json' };
    const figures = creditFigures(counts, [ev('r1', 1, 'dispute_opened', 0), erased, decided]);
    expect(figures).toMatchObject({ disputesOpened: 1, disputesLost: 0, medianResponseSeconds: null });
  });
});
