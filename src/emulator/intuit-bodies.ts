// The JSON bodies the Accounting API answers with: its two fault spellings (INTUIT.md) and the
// small seeded company (CompanyInfo and a few Customers) the query endpoint serves.

export type FaultSpelling = 'lower' | 'capital';

export interface FaultSpec {
  status: number;
  name: string;
  code: string;
  detail: string;
  lowerType: string;
  capitalType: string;
}

export const AUTHENTICATION_FAILED = (detail: string): FaultSpec => ({
  status: 401,
  name: 'AuthenticationFailed',
  code: '3200',
  detail,
  lowerType: 'AUTHENTICATION',
  capitalType: 'AuthenticationFault',
});

export const AUTHORIZATION_FAILED = (detail: string): FaultSpec => ({
  status: 403,
  name: 'ApplicationAuthorizationFailed',
  code: '3100',
  detail,
  lowerType: 'AUTHORIZATION',
  capitalType: 'AuthorizationFault',
});

export const THROTTLE_EXCEEDED = (detail: string): FaultSpec => ({
  status: 429,
  name: 'ThrottleExceeded',
  code: '3001',
  detail,
  lowerType: 'SERVICE',
  capitalType: 'ThrottleExceeded',
});

export const SERVICE_FAULT = (status: number): FaultSpec => ({
  status,
  name: status === 503 ? 'ServiceUnavailable' : 'InternalServerError',
  code: '10000',
  detail: status === 503 ? 'Service is temporarily unavailable' : 'An application error has occurred',
  lowerType: 'SERVICE',
  capitalType: 'SystemFault',
});

export const VALIDATION_FAULT = (name: string, code: string, detail: string): FaultSpec => ({
  status: 400,
  name,
  code,
  detail,
  lowerType: 'VALIDATION',
  capitalType: 'ValidationFault',
});

export function faultBody(spec: FaultSpec, spelling: FaultSpelling, nowMs: number): unknown {
  const message = `message=${spec.name}; errorCode=${spec.code.padStart(6, '0')}; statusCode=${spec.status}`;
  if (spelling === 'capital') {
    return {
      Fault: { Error: [{ Message: message, Detail: spec.detail, code: spec.code }], type: spec.capitalType },
      time: intuitTime(nowMs),
    };
  }
  return {
    warnings: null,
    intuitObject: null,
    fault: {
      error: [{ message, detail: spec.detail, code: spec.code, element: null }],
      type: spec.lowerType,
    },
    report: null,
    queryResponse: null,
    batchItemResponse: [],
    attachableResponse: [],
    syncErrorResponse: null,
    requestId: null,
    time: nowMs,
    status: null,
    cdcresponse: [],
  };
}

/** Intuit's `time` field: local time with a Pacific offset, e.g. 2026-11-27T05:11:35.123-08:00. */
export function intuitTime(nowMs: number): string {
  const pacific = new Date(nowMs - 8 * 3600 * 1000).toISOString().replace('Z', '');
  return `${pacific}-08:00`;
}

export function companyInfo(realmId: string, companyName: string): Record<string, unknown> {
  const address = {
    Id: '1',
    Line1: '123 Sierra Way',
    City: 'San Pablo',
    CountrySubDivisionCode: 'CA',
    PostalCode: '87999',
    Lat: '36.6788345',
    Long: '-116.0156689',
  };
  return {
    CompanyName: companyName,
    LegalName: companyName,
    CompanyAddr: address,
    CustomerCommunicationAddr: address,
    LegalAddr: address,
    PrimaryPhone: {},
    CompanyStartDate: '2026-01-01',
    FiscalYearStartMonth: 'January',
    Country: 'US',
    Email: { Address: 'noreply@quickbooks.com' },
    WebAddr: {},
    SupportedLanguages: 'en',
    NameValue: [
      { Name: 'NeoEnabled', Value: 'true' },
      { Name: 'IndustryType', Value: 'Landscaping Services' },
      { Name: 'OfferingSku', Value: 'QuickBooks Online Plus' },
    ],
    domain: 'QBO',
    sparse: false,
    Id: '1',
    SyncToken: '4',
    MetaData: { CreateTime: '2026-01-01T10:00:00-08:00', LastUpdatedTime: '2026-01-02T10:00:00-08:00' },
    RealmId: realmId,
  };
}

const CUSTOMER_NAMES: [string, number][] = [
  ["Amy's Bird Sanctuary", 239],
  ["Bill's Windsurf Shop", 85],
  ['Cool Cars', 0],
  ['Diego Rodriguez', 0],
  ['Dukes Basketball Camp', 0],
  ['Freeman Sporting Goods', 562],
  ['Geeta Kalapatapu', 629.1],
  ["Jeff's Jalopies", 81],
];

export function seededCustomers(): Record<string, unknown>[] {
  return CUSTOMER_NAMES.map(([name, balance], index) => ({
    Id: String(index + 1),
    SyncToken: '0',
    DisplayName: name,
    CompanyName: name,
    FullyQualifiedName: name,
    PrintOnCheckName: name,
    Active: true,
    Taxable: false,
    Job: false,
    BillWithParent: false,
    Balance: balance,
    BalanceWithJobs: balance,
    CurrencyRef: { value: 'USD', name: 'United States Dollar' },
    PreferredDeliveryMethod: 'Print',
    domain: 'QBO',
    sparse: false,
    MetaData: { CreateTime: '2026-01-05T16:00:00-08:00', LastUpdatedTime: '2026-01-05T16:00:00-08:00' },
  }));
}
