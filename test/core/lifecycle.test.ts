/**
 * The lifecycle rules of src/core/lifecycle.ts as a table: from each head, each event either moves
 * the record on or is refused with the message the API answers 409 with.
 */
import { describe, expect, it } from 'vitest';
import {
  ALL_EVENT_TYPES,
  endsRecord,
  EVENT_TYPES,
  ISSUED,
  ISSUED_HEAD,
  isEventType,
  nextHead,
  type EventType,
  type LifecycleHead,
} from '../../src/core/index.ts';

const fresh = ISSUED_HEAD;
const sold: LifecycleHead = { ...fresh, sold: true };
const soldActivated: LifecycleHead = { ...fresh, sold: true, activated: true };
const revoked: LifecycleHead = { ...sold, state: 'revoked' };
const refunded: LifecycleHead = { ...sold, state: 'refunded' };
const disputed: LifecycleHead = { ...sold, dispute: 'open' };
const answered: LifecycleHead = { ...sold, dispute: 'answered' };
const underDispute = 'a dispute is open on the record; it must be decided first';

const cases: Array<[string, LifecycleHead, EventType, LifecycleHead | string]> = [
  ['issued', fresh, 'sold', sold],
  ['issued', fresh, 'activated', { ...fresh, activated: true }],
  ['issued', fresh, 'transferred', fresh],
  ['issued', fresh, 'revoked', { ...fresh, state: 'revoked' }],
  ['issued', fresh, 'refunded', 'a record that was never sold cannot be refunded'],
  ['sold', sold, 'sold', 'the record was already sold; record a transfer instead'],
  ['sold', sold, 'activated', soldActivated],
  ['sold', sold, 'transferred', sold],
  ['sold', sold, 'refunded', refunded],
  ['activated', soldActivated, 'activated', 'the record was already activated'],
  ['activated', soldActivated, 'refunded', { ...soldActivated, state: 'refunded' }],
  ['revoked', revoked, 'transferred', 'the record is revoked: no event may follow'],
  ['revoked', revoked, 'revoked', 'the record is revoked: no event may follow'],
  ['refunded', refunded, 'sold', 'the record is refunded: no event may follow'],
  // Sealed delivery: one first reveal, of a sold record.
  ['issued', fresh, 'revealed', 'a record that was never sold cannot be revealed'],
  ['sold', sold, 'revealed', { ...sold, revealed: true }],
  ['revealed', { ...sold, revealed: true }, 'revealed', 'the record was already revealed'],
  // Disputes: at most one open, answered once while open, decided closes it.
  ['issued', fresh, 'dispute_opened', 'a record that was never sold cannot be disputed'],
  ['sold', sold, 'dispute_opened', disputed],
  ['disputed', disputed, 'dispute_opened', 'a dispute is already open on the record'],
  ['answered', answered, 'dispute_opened', 'a dispute is already open on the record'],
  ['sold', sold, 'dispute_answered', 'no dispute is open on the record'],
  ['disputed', disputed, 'dispute_answered', answered],
  ['answered', answered, 'dispute_answered', 'the dispute was already answered'],
  ['sold', sold, 'dispute_decided', 'no dispute is open on the record'],
  ['disputed', disputed, 'dispute_decided', sold],
  ['answered', answered, 'dispute_decided', sold],
  ['disputed', disputed, 'activated', { ...disputed, activated: true }],
  ['disputed', disputed, 'revealed', { ...disputed, revealed: true }],
  ['disputed', disputed, 'refunded', underDispute],
  ['answered', answered, 'revoked', underDispute],
  ['disputed', disputed, 'transferred', underDispute],
  ['revoked', revoked, 'dispute_opened', 'the record is revoked: no event may follow'],
];

describe('lifecycle rules', () => {
  it.each(cases)('%s, then %s', (_name, head, type, expected) => {
    const next = nextHead(head, type);
    if (typeof expected === 'string') expect(next).toEqual({ violation: expected });
    else expect(next).toEqual(expected);
  });

  it('lists the events a merchant may add, in the API order; issuance is not one of them', () => {
    expect(EVENT_TYPES).toEqual(['sold', 'activated', 'transferred', 'revoked', 'refunded']);
    expect(ALL_EVENT_TYPES).toEqual([
      ...EVENT_TYPES,
      'revealed',
      'dispute_opened',
      'dispute_answered',
      'dispute_decided',
    ]);
    expect(isEventType('dispute_opened')).toBe(true);
    expect(isEventType(ISSUED)).toBe(false);
    expect(isEventType('toString')).toBe(false);
  });

  it('revoked and refunded end a record; nothing else does', () => {
    expect(ALL_EVENT_TYPES.filter(endsRecord)).toEqual(['revoked', 'refunded']);
    expect(endsRecord(ISSUED)).toBe(false);
    expect(endsRecord('unknown')).toBe(false);
  });
});
