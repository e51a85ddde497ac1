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

/**
 * Where a record's dispute stands: none open, open and waiting for the merchant's answer, or
 * answered (contested) and waiting for the operator. At most one is open at a time.
 */
export const DISPUTE_STAGES = ['none', 'open', 'answered'] as const;
export type DisputeStage = (typeof DISPUTE_STAGES)[number];

/** What a record's events have made of it so far. */
export interface LifecycleHead {
  state: RecordState;
  sold: boolean;
  activated: boolean;
  /** The buyer has revealed a sealed delivery's secret (the first reveal is the event). */
  revealed: boolean;
  dispute: DisputeStage;
}

/** The head of a record just issued. */
export const ISSUED_HEAD: LifecycleHead = {
  state: 'active',
  sold: false,
  activated: false,
  revealed: false,
  dispute: 'none',
};

/**
 * Who adds an event: the merchant through the events API, or the service itself (a buyer's reveal,
 * a dispute's steps), which checks who may take the step before it asks the rules.
 */
type EventAuthor = 'merchant' | 'service';

interface EventRule {
  by: EventAuthor;
  /** Why the event cannot follow this head (the 409's message), or null when it can. */
  refuse(head: LifecycleHead): string | null;
  /** What the event changes; anything not named stays as it was. */
  sets: Partial<LifecycleHead>;
}

/** A record under dispute keeps its state until the dispute is decided (the decision may refund it). */
const notUnderDispute = (h: LifecycleHead) =>
  h.dispute === 'none' ? null : 'a dispute is open on the record; it must be decided first';

/**
 * Every event that may follow issuance: first the ones a merchant adds, in the order the API lists
 * them, then the after-sale steps the service adds for buyers and the operator.
 */
const EVENT_RULES = {
  sold: {
    by: 'merchant',
    refuse: (h) => (h.sold ? 'the record was already sold; record a transfer instead' : null),
    sets: { sold: true },
  },
  activated: {
    by: 'merchant',
    refuse: (h) => (h.activated ? 'the record was already activated' : null),
    sets: { activated: true },
  },
  transferred: { by: 'merchant', refuse: notUnderDispute, sets: {} },
  revoked: { by: 'merchant', refuse: notUnderDispute, sets: { state: 'revoked' } },
  refunded: {
    by: 'merchant',
    refuse: (h) => (h.sold ? notUnderDispute(h) : 'a record that was never sold cannot be refunded'),
    sets: { state: 'refunded' },
  },
  /** The buyer's first reveal of a sealed delivery; later reveals add nothing. */
  revealed: {
    by: 'service',
    refuse: (h) =>
      !h.sold
        ? 'a record that was never sold cannot be revealed'
        : h.revealed
          ? 'the record was already revealed'
          : null,
    sets: { revealed: true },
  },
  dispute_opened: {
    by: 'service',
    refuse: (h) =>
      !h.sold
        ? 'a record that was never sold cannot be disputed'
        : h.dispute !== 'none'
          ? 'a dispute is already open on the record'
          : null,
    sets: { dispute: 'open' },
  },
  dispute_answered: {
    by: 'service',
    refuse: (h) =>
      h.dispute === 'none'
        ? 'no dispute is open on the record'
        : h.dispute === 'answered'
          ? 'the dispute was already answered'
          : null,
    sets: { dispute: 'answered' },
  },
  dispute_decided: {
    by: 'service',
    refuse: (h) => (h.dispute === 'none' ? 'no dispute is open on the record' : null),
    sets: { dispute: 'none' },
  },
} satisfies Record<string, EventRule>;

/** An event that may follow issuance (whoever adds it). */
export type EventType = keyof typeof EVENT_RULES;
/** Every event type after issuance, merchants' first. */
export const ALL_EVENT_TYPES = Object.keys(EVENT_RULES) as EventType[];

/** An event a merchant may add through the events API. */
export type MerchantEventType = {
  [K in EventType]: (typeof EVENT_RULES)[K]['by'] extends 'merchant' ? K : never;
}[EventType];
/** The events a merchant may add, in the order the API lists them. */
export const EVENT_TYPES = ALL_EVENT_TYPES.filter(
  (t) => (EVENT_RULES[t] as EventRule).by === 'merchant',
) as MerchantEventType[];

/** Any event a record's history may hold: its issuance, then the events added to it. */
export type RecordEventType = typeof ISSUED | EventType;

/** Whether `type` names an event that may follow issuance (not issuance, nothing unknown). */
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
