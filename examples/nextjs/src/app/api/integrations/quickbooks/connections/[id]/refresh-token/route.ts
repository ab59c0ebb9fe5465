// The same three actions for one company, by its connection id or realm id (the desk's
// /connections/{id}/refresh-token): GET status, POST force a refresh, DELETE clear the cached access
// token. An id the desk's store does not hold answers 404 unknown_connection. Closed unless
// isAdmin(request); authorize also receives { connectionId } to decide per company.
import { createConnectionRouteHandlers } from 'qb-token-desk/next';
import { isAdmin } from '@/lib/auth';
import { quickbooks } from '@/lib/integrations/quickbooks';

export const runtime = 'nodejs';
export const dynamic = 'force-dynamic';

export const { GET, POST, DELETE } = createConnectionRouteHandlers({ quickbooks, authorize: isAdmin });
