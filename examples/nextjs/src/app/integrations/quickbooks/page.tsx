// The QuickBooks page's token status: expiry, where the token in use came from, and auto-refresh.
// Rendered on the server from the engine's status (previews only, never a token value). Put it
// behind your app's own sign-in, as the API route is behind isAdmin().
import { getCompanyInfo, quickbooks } from '@/lib/integrations/quickbooks';

export const dynamic = 'force-dynamic';

const SOURCE: Record<string, string> = {
  cached: 'Cached (issued by a refresh)',
  environment: 'Environment (QB_ACCESS_TOKEN)',
  none: 'None yet',
};

function When({ iso, testId }: { iso: string | null | undefined; testId: string }) {
  if (!iso) return <span data-testid={testId}>—</span>;
  const text = new Date(iso).toLocaleString('en-US', { timeZone: 'UTC', timeZoneName: 'short' });
  return (
    <time data-testid={testId} dateTime={iso}>
      {text}
    </time>
  );
}

export default async function QuickBooksPage() {
  let company: string;
  try {
    company = (await getCompanyInfo()).CompanyName;
  } catch (error) {
    company = `Not reachable: ${error instanceof Error ? error.message : 'unknown error'}`;
  }
  const status = quickbooks.getStatus();
  const { autoRefresh, lastRefresh } = status;
  return (
    <main>
      <h1>QuickBooks</h1>
      <p>
        Company: <strong data-testid="company">{company}</strong>
      </p>
      <section aria-labelledby="token-status">
        <h2 id="token-status">Token status</h2>
        <dl>
          <dt>State</dt>
          <dd data-testid="state">{status.state}</dd>
          <dt>Access token expires</dt>
          <dd>
            <When iso={status.accessToken?.expiresAt} testId="expires" />
          </dd>
          <dt>Source</dt>
          <dd data-testid="source">{SOURCE[status.source]}</dd>
          <dt>Automatic refresh</dt>
          <dd data-testid="auto-refresh">
            {autoRefresh.enabled ? (
              <>
                On: next refresh <When iso={autoRefresh.nextRefreshAt} testId="next-refresh" />,{' '}
                {autoRefresh.skewSeconds} s before expiry
              </>
            ) : (
              'Off'
            )}
          </dd>
          <dt>Last refresh</dt>
          <dd data-testid="last-refresh">
            {lastRefresh ? (
              <>
                <When iso={lastRefresh.at} testId="last-refresh-at" /> ({lastRefresh.ok ? 'ok' : 'failed'},{' '}
                {lastRefresh.trigger})
              </>
            ) : (
              '—'
            )}
          </dd>
        </dl>
        {status.warnings.length > 0 && (
          <ul data-testid="warnings">
            {status.warnings.map((warning) => (
              <li key={warning}>{warning}</li>
            ))}
          </ul>
        )}
      </section>
    </main>
  );
}
