// GET: token status. POST: force a refresh. DELETE: clear the cached access token (the refresh
// token is kept). Closed unless isAdmin(request) says true.
import { createRouteHandlers } from 'qb-token-desk/next';
import { isAdmin } from '@/lib/auth';
import { quickbooks } from '@/lib/integrations/quickbooks';

export const runtime = 'nodejs';
export const dynamic = 'force-dynamic';

export const { GET, POST, DELETE } = createRouteHandlers({ quickbooks, authorize: isAdmin });
