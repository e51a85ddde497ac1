/**
 * The rules for what a merchant writes that the verification page shows: every text displayable
 * (service/display-text.ts) and the public key-value data free of personal data
 * (service/personal-data.ts). Called before anything is read or written, so a refusal writes nothing.
 */
import { assertDisplayable, displayTextProblem } from './display-text.ts';
import { personalDataError } from './personal-data.ts';
import type { RecordInput } from './registration.ts';

/** Each key and each text value of `data`, named as `field` key "k" and `field`.k. */
function* dataTexts(field: string, data: Record<string, unknown> | undefined): Generator<[string, string]> {
  for (const [key, value] of Object.entries(data ?? {})) {
    yield [`${field} key "${key}"`, key];
    if (typeof value === 'string') yield [`${field}.${key}`, value];
  }
}

/** Whether every text of a record may be shown: the check alone, without naming fields. */
function recordDisplayable(input: RecordInput): boolean {
  if (
    displayTextProblem(input.productName) !== null ||
    displayTextProblem(input.sku) !== null ||
    displayTextProblem(input.serial) !== null
  ) {
    return false;
  }
  for (const [key, value] of Object.entries(input.metadata ?? {})) {
    if (displayTextProblem(key) !== null) return false;
    if (typeof value === 'string' && displayTextProblem(value) !== null) return false;
  }
  return true;
}

/** 400 unsafe_text, blank_text or personal_data for the first field of a registration that breaks a rule. */
export function checkRecordTexts(inputs: readonly RecordInput[]): void {
  inputs.forEach((input, i) => {
    // The fields are named (and the refusal built) only for a record that breaks a rule.
    if (!recordDisplayable(input)) {
      const at = `records[${i}]`;
      assertDisplayable([
        [`${at}.productName`, input.productName],
        [`${at}.sku`, input.sku],
        [`${at}.serial`, input.serial],
        ...dataTexts(`${at}.metadata`, input.metadata),
      ]);
    }
    const personal = personalDataError(`records[${i}].metadata`, input.metadata);
    if (personal) throw personal;
  });
}

/** 400 unsafe_text, blank_text or personal_data for an event's data that breaks a rule. */
export function checkEventData(data: Record<string, unknown> | undefined): void {
  assertDisplayable(dataTexts('data', data));
  const personal = personalDataError('data', data);
  if (personal) throw personal;
}
