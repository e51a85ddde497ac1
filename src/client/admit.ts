/** Admitting a merchant as an operator does it: created, then verified with evidence of authorisation. */
import type { ApiClient } from './client.ts';
import type { Evidence, MerchantProfile, NewMerchant } from './types.ts';

export interface AdmittedMerchant {
  id: string;
  /** Shown once, at creation: the caller keeps it. */
  apiKey: string;
  /** The profile as verified. */
  profile: MerchantProfile;
}

/** Creates the merchant and verifies it with `evidence` through `admin` (a client with the admin token). */
export async function admitMerchant(
  admin: ApiClient,
  merchant: NewMerchant,
  evidence: Evidence[],
): Promise<AdmittedMerchant> {
  const { id, apiKey } = await admin.createMerchant(merchant);
  const profile = await admin.verifyMerchant(id, evidence);
  return { id, apiKey, profile };
}
