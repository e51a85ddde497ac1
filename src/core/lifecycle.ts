/**
 * The lifecycle of a record: what kinds of item there are, which events a record takes in which
 * state, and how each event changes it. Every other place (the API schema, the service, the page's
 * labels, the CLI) derives from these tables; adding an event type is one entry in EVENT_RULES plus
 * its labels. Pure: the service reads a record's head, asks `nextHead`, and stores the answer.
 */

export const RECORD_KINDS = ['licence', 'account', 'card'] as const;
export type RecordKind = (typeof RECORD_KINDS)[number];

/** `active` takes events; every other state ends the record. */
export const RECORD_STATES = ['active', 'revoked', 'refunded'] as const;
export type RecordState = (typeof RECORD_STATES)[number];

/** The event every record starts with (seq 0), written at registration; never added later. */
export const ISSUED = 'issued';

/** What a record's events have made of it so far. */
export interface LifecycleHead {
  state: RecordState;
  sold: boolean;
  activated: boolean;
}

/** The head of a record just issued. */
export const ISSUED_HEAD: LifecycleHead = { state: 'active', sold: false, activated: false };

interface EventRule {
  /** Why the event cannot follow this head (the 409's message), or null when it can. */
  refuse(head: LifecycleHead): string | null;
  /** What the event changes; anything not named stays as it was. */
  sets: Partial<LifecycleHead>;
}

const always = () => null;

/** Every event a merchant may add after issuance, in the order the API lists them. */
const EVENT_RULES = {
  sold: {
    refuse: (h) => (h.sold ? 'the record was already sold; record a transfer instead' : null),
    sets: { sold: true },
  },
  activated: {
    refuse: (h) => (h.activated ? 'the record was already activated' : null),
    sets: { activated: true },
  },
  transferred: { refuse: always, sets: {} },
  revoked: { refuse: always, sets: { state: 'revoked' } },
  refunded: {
    refuse: (h) => (h.sold ? null : 'a record that was never sold cannot be refunded'),
    sets: { state: 'refunded' },
  },
} satisfies Record<string, EventRule>;

/** An event a merchant may add to an issued record. */
export type EventType = keyof typeof EVENT_RULES;
export const EVENT_TYPES = Object.keys(EVENT_RULES) as EventType[];

/** Any event a record's history may hold: its issuance, then the events added to it. */
export type RecordEventType = typeof ISSUED | EventType;

/** Whether `type` names an event a merchant may add (not issuance, nothing unknown). */
export function isEventType(type: string): type is EventType {
  return Object.hasOwn(EVENT_RULES, type);
}

/**
 * The head after event `type`, or why the event cannot follow `head`. No event follows one that
 * ended the record; otherwise the event's own rule decides.
 */
export function nextHead(head: LifecycleHead, type: EventType): LifecycleHead | { violation: string } {
  if (head.state !== 'active') return { violation: `the record is ${head.state}: no event may follow` };
  const rule: EventRule = EVENT_RULES[type];
  const violation = rule.refuse(head);
  if (violation !== null) return { violation };
  return { ...head, ...rule.sets };
}

/** Whether an event of this type ends the record (no event may follow it). Unknown types do not. */
export function endsRecord(type: string): boolean {
  if (!isEventType(type)) return false;
  const state: RecordState | undefined = (EVENT_RULES[type] as EventRule).sets.state;
  return state !== undefined && state !== 'active';
}
