// The signed-in user's QuickBooks companies: which realms the consent page's company selector
// offers, and the name CompanyInfo answers for each realm. Intuit shows its "Company selector" only
// to a user with access to more than one company; with one it asks nothing.
import type { EmulatorCompany } from './types';
import type { Rule } from './validate';

/** A realm id as Intuit issues them: digits. */
export const REALM_ID_PATTERN = /^\d{1,32}$/;

/** More than a bookkeeper's client list; the selector is one native dropdown, which copes with this many. */
const MAX_COMPANIES = 1000;

/** The part of the settings the companies are read from. */
interface CompanySettings {
  companyName: string;
  /** Declared companies; empty = the demo realm alone, named `companyName`. */
  companies: EmulatorCompany[];
}

function duplicateRealm(items: Record<string, unknown>[]): string | null {
  const seen = new Set<unknown>();
  for (const item of items) {
    if (seen.has(item.realmId)) return `realmId ${String(item.realmId)} is listed twice`;
    seen.add(item.realmId);
  }
  return null;
}

export const COMPANIES_RULE: Rule = {
  type: 'objects',
  fields: {
    realmId: { type: 'string', pattern: REALM_ID_PATTERN },
    companyName: { type: 'string', maxLength: 200 },
  },
  minItems: 1,
  maxItems: MAX_COMPANIES,
  check: duplicateRealm,
  optional: true,
};

/** The companies the consent page offers, in the declared order. */
export function userCompanies(settings: CompanySettings, demoRealmId: string): EmulatorCompany[] {
  return settings.companies.length > 0
    ? settings.companies
    : [{ realmId: demoRealmId, companyName: settings.companyName }];
}

/** CompanyInfo's name for a realm: its declared name, else the emulator-wide `companyName`. */
export function companyNameOf(settings: CompanySettings, realmId: string): string {
  return (
    settings.companies.find((company) => company.realmId === realmId)?.companyName ?? settings.companyName
  );
}
