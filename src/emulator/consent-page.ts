// The consent page's HTML: Intuit's screen reduced to the company, the scope and a Connect and a
// Cancel button. A user with several companies gets Intuit's "Company selector" first: one labelled
// native dropdown (keyboard-operable as is), nothing chosen until the user chooses, so Connect names
// the company the user meant. Cancel needs no choice (formnovalidate).
import { escapeHtml } from './http-util';
import type { EmulatorCompany } from './types';

export const DECISION_PATH = '/connect/oauth2/decision';

export interface ConsentView {
  clientId: string;
  redirectUri: string;
  state: string;
  scope: string;
  /** The company being connected when there is nothing to choose, with the field that carries it. */
  fixed: { company: EmulatorCompany; field: 'company' | 'realm_id' } | null;
  /** The user's companies, for the selector (used when `fixed` is null). */
  companies: EmulatorCompany[];
  /** Why the last submission was refused (Connect without a company). */
  error?: string;
}

const STYLE = `body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#393a3d;line-height:1.4}
label{display:block;font-weight:600;margin-bottom:.3rem}
select{font-size:1rem;padding:.5rem;min-width:100%;border:1px solid #6b6c72;border-radius:4px;background:#fff;color:#393a3d}
select[aria-invalid=true]{border-color:#d52b1e}
.hint{color:#6b6c72;margin:.3rem 0 0}.error{color:#d52b1e;font-weight:600;margin:.3rem 0 0}
.actions{margin-top:1.5rem;display:flex;gap:.75rem}
button{font-size:1rem;padding:.6rem 1.4rem;border-radius:4px;border:1px solid #108000;cursor:pointer}
#connect{background:#108000;color:#fff}#cancel{background:#fff;color:#393a3d;border-color:#6b6c72}
:focus-visible{outline:3px solid #0077c5;outline-offset:2px}`;

function hidden(name: string, value: string): string {
  return `<input type="hidden" name="${name}" value="${escapeHtml(value)}">`;
}

/** Option labels are the company names; a name two companies share also shows its company id. */
function optionLabels(companies: EmulatorCompany[]): string[] {
  const count = new Map<string, number>();
  for (const { companyName } of companies) count.set(companyName, (count.get(companyName) ?? 0) + 1);
  return companies.map(({ companyName, realmId }) =>
    (count.get(companyName) ?? 0) > 1 ? `${companyName} (company ${realmId})` : companyName,
  );
}

function selector(companies: EmulatorCompany[], error: string | undefined): string {
  const labels = optionLabels(companies);
  const options = companies
    .map(
      (company, i) =>
        `<option value="${escapeHtml(company.realmId)}">${escapeHtml(labels[i] ?? '')}</option>`,
    )
    .join('');
  const describedBy = error ? 'company-hint company-error' : 'company-hint';
  return `<div class="field">
<label for="company">Company</label>
<select id="company" name="company" required autofocus aria-describedby="${describedBy}"${error ? ' aria-invalid="true"' : ''}>
<option value="">Select a company</option>${options}
</select>
<p id="company-hint" class="hint">You have access to ${companies.length} QuickBooks companies. Choose the one to connect to this app.</p>
${error ? `<p id="company-error" class="error" role="alert">${escapeHtml(error)}</p>` : ''}
</div>`;
}

export function consentPageHtml(view: ConsentView): string {
  const { fixed } = view;
  const intro = fixed
    ? `An app wants to connect to <strong>${escapeHtml(fixed.company.companyName)}</strong> (company ${escapeHtml(fixed.company.realmId)}).`
    : 'An app wants to connect to one of your QuickBooks companies.';
  const fields = [
    hidden('client_id', view.clientId),
    hidden('response_type', 'code'),
    hidden('redirect_uri', view.redirectUri),
    hidden('state', view.state),
    hidden('scope', view.scope),
    fixed ? hidden(fixed.field, fixed.company.realmId) : '',
  ].join('');
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Connect to QuickBooks (emulator)</title><style>${STYLE}</style></head>
<body><main><h1>Intuit emulator</h1>
<p>${intro}</p>
<form method="post" action="${DECISION_PATH}">
${fixed ? '' : selector(view.companies, view.error)}
<p>Scope: <code>${escapeHtml(view.scope)}</code></p>
${fields}
<div class="actions">
<button id="connect" type="submit" name="decision" value="connect">Connect</button>
<button id="cancel" type="submit" name="decision" value="cancel" formnovalidate>Cancel</button>
</div>
</form></main></body></html>`;
}
