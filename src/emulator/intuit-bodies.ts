// The small seeded company the read and query endpoints serve, shaped as Intuit's sandbox company
// answers them (minor version 75): CompanyInfo, and a few Accounts, Customers, Vendors, Items and
// Invoices that refer to each other by Id.

export type Row = Record<string, unknown>;

const META = { CreateTime: '2026-01-05T16:00:00-08:00', LastUpdatedTime: '2026-01-05T16:00:00-08:00' };
const USD = { value: 'USD', name: 'United States Dollar' };

function entity(id: number, fields: Row): Row {
  return { ...fields, domain: 'QBO', sparse: false, Id: String(id), SyncToken: '0', MetaData: META };
}

function companyInfo(realmId: string, companyName: string): Row {
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

const ACCOUNTS: [string, string, string, string, number][] = [
  // Name, Classification, AccountType, AccountSubType, CurrentBalance
  ['Checking', 'Asset', 'Bank', 'Checking', 1201],
  ['Savings', 'Asset', 'Bank', 'Savings', 800],
  ['Accounts Receivable (A/R)', 'Asset', 'Accounts Receivable', 'AccountsReceivable', 1526.1],
  ['Accounts Payable (A/P)', 'Liability', 'Accounts Payable', 'AccountsPayable', 1602.67],
  ['Services', 'Revenue', 'Income', 'ServiceFeeIncome', 0],
  ['Landscaping Services', 'Revenue', 'Income', 'ServiceFeeIncome', 0],
  ['Sales of Product Income', 'Revenue', 'Income', 'SalesOfProductIncome', 0],
  ['Advertising', 'Expense', 'Expense', 'AdvertisingPromotional', 0],
  ['Utilities', 'Expense', 'Expense', 'Utilities', 0],
  ['Cost of Goods Sold', 'Expense', 'Cost of Goods Sold', 'SuppliesMaterialsCogs', 0],
];

function seededAccounts(): Row[] {
  return ACCOUNTS.map(([name, classification, type, subType, balance], index) =>
    entity(index + 1, {
      Name: name,
      SubAccount: false,
      FullyQualifiedName: name,
      Active: true,
      Classification: classification,
      AccountType: type,
      AccountSubType: subType,
      CurrentBalance: balance,
      CurrentBalanceWithSubAccounts: balance,
      CurrencyRef: USD,
    }),
  );
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

export function seededCustomers(): Row[] {
  return CUSTOMER_NAMES.map(([name, balance], index) =>
    entity(index + 1, {
      Taxable: false,
      Job: false,
      BillWithParent: false,
      Balance: balance,
      BalanceWithJobs: balance,
      CurrencyRef: USD,
      PreferredDeliveryMethod: 'Print',
      DisplayName: name,
      CompanyName: name,
      FullyQualifiedName: name,
      PrintOnCheckName: name,
      Active: true,
    }),
  );
}

const VENDOR_NAMES: [string, number][] = [
  ["Bob's Burger Joint", 0],
  ['Brosnahan Insurance Agency', 241.23],
  ['Cal Telephone', 56.5],
  ['Hicks Hardware', 250],
  ['Norton Lumber and Building Materials', 205],
  ['PG&E', 86.44],
];

function seededVendors(): Row[] {
  return VENDOR_NAMES.map(([name, balance], index) =>
    entity(index + 1, {
      Balance: balance,
      Vendor1099: false,
      CurrencyRef: USD,
      DisplayName: name,
      CompanyName: name,
      PrintOnCheckName: name,
      Active: true,
    }),
  );
}

const ITEMS: [string, string, string, number, number][] = [
  // Name, Description, Type, UnitPrice, income account Id
  ['Design', 'Custom Design', 'Service', 75, 5],
  ['Gardening', 'Weekly Gardening Service', 'Service', 25, 6],
  ['Hours', 'Hourly work', 'Service', 0, 5],
  ['Rock Fountain', 'Rock Fountain', 'Inventory', 275, 7],
  ['Sprinkler Heads', 'Sprinkler Heads', 'Inventory', 2, 7],
  ['Trimming', 'Tree and Shrub Trimming', 'Service', 35, 6],
];

function seededItems(): Row[] {
  const accounts = seededAccounts();
  return ITEMS.map(([name, description, type, price, accountId], index) => {
    const account = accounts.find((a) => a.Id === String(accountId));
    return entity(index + 1, {
      Name: name,
      Description: description,
      Active: true,
      FullyQualifiedName: name,
      Taxable: false,
      UnitPrice: price,
      Type: type,
      IncomeAccountRef: { value: String(accountId), name: account?.Name },
      TrackQtyOnHand: type === 'Inventory',
      ...(type === 'Inventory' ? { QtyOnHand: 10 } : {}),
    });
  });
}

const INVOICES: [string, string, number, [number, number][]][] = [
  // DocNumber, TxnDate, customer Id, lines as [item Id, quantity]
  [
    '1001',
    '2026-02-03',
    1,
    [
      [2, 4],
      [6, 2],
    ],
  ],
  [
    '1002',
    '2026-02-10',
    6,
    [
      [4, 2],
      [5, 6],
    ],
  ],
  [
    '1003',
    '2026-02-17',
    7,
    [
      [1, 8],
      [3, 1],
    ],
  ],
  ['1004', '2026-03-02', 2, [[6, 2]]],
  ['1005', '2026-03-09', 8, [[2, 3]]],
];

function seededInvoices(): Row[] {
  const customers = seededCustomers();
  const items = seededItems();
  return INVOICES.map(([docNumber, txnDate, customerId, lines], index) => {
    const detailLines = lines.map(([itemId, qty], lineIndex) => {
      const item = items.find((i) => i.Id === String(itemId));
      const price = Number(item?.UnitPrice ?? 0);
      return {
        Id: String(lineIndex + 1),
        LineNum: lineIndex + 1,
        Description: item?.Description,
        Amount: price * qty,
        DetailType: 'SalesItemLineDetail',
        SalesItemLineDetail: {
          ItemRef: { value: String(itemId), name: item?.Name },
          UnitPrice: price,
          Qty: qty,
        },
      };
    });
    const total = detailLines.reduce((sum, line) => sum + line.Amount, 0);
    const customer = customers.find((c) => c.Id === String(customerId));
    return entity(index + 1, {
      DocNumber: docNumber,
      TxnDate: txnDate,
      CurrencyRef: USD,
      Line: [...detailLines, { Amount: total, DetailType: 'SubTotalLineDetail', SubTotalLineDetail: {} }],
      CustomerRef: { value: String(customerId), name: customer?.DisplayName },
      // Net 30, the sandbox company's default terms.
      DueDate: new Date(Date.parse(`${txnDate}T00:00:00Z`) + 30 * 86_400_000).toISOString().slice(0, 10),
      TotalAmt: total,
      Balance: index % 2 === 0 ? total : 0,
    });
  });
}

/** The entities the emulator serves, by the lower-case name used in URLs and queries. */
export const SEEDED_ENTITIES: Record<
  string,
  { name: string; rows: (realmId: string, companyName: string) => Row[] }
> = {
  companyinfo: { name: 'CompanyInfo', rows: (realmId, companyName) => [companyInfo(realmId, companyName)] },
  account: { name: 'Account', rows: seededAccounts },
  customer: { name: 'Customer', rows: seededCustomers },
  vendor: { name: 'Vendor', rows: seededVendors },
  item: { name: 'Item', rows: seededItems },
  invoice: { name: 'Invoice', rows: seededInvoices },
};
