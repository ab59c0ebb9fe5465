// Was: quickbooks-token-refresh.ts + quickbooks-token-storage.ts + the refresh logic in this file.
// Now one engine, shared with QB Token Desk: the same QB_* settings (.env.local), the same store and
// lock, so this app and the desk never race for the rotating refresh token.
import { createQuickBooks, type QuickBooks } from 'qb-token-desk';

// Next.js evaluates this module once per route layer (the API route and the page each get a copy):
// keep one engine per process, so the page shows what the route did. Nothing runs at import (or
// during `next build`): the engine starts on the first call.
const shared = globalThis as typeof globalThis & { quickbooks?: QuickBooks };
export const quickbooks = (shared.quickbooks ??= createQuickBooks({ clientName: 'nextjs-example' }));

export interface CompanyInfo {
  CompanyName: string;
  Country?: string;
}

/** CompanyInfo through the library's fetch: bearer added, one refresh and retry on a 401. */
export async function getCompanyInfo(): Promise<CompanyInfo> {
  const { realmId } = await quickbooks.ready();
  const response = await quickbooks.fetch(`/v3/company/${realmId}/companyinfo/${realmId}`);
  const body = (await response.json()) as { CompanyInfo: CompanyInfo };
  return body.CompanyInfo;
}
