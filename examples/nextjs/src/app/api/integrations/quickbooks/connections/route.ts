// GET: every company in the desk's store (ConnectionSummary[]: id, name, environment, realm id,
// state, expiries, last refresh), the default connection first. Closed unless isAdmin(request).
import { createConnectionListHandler } from 'qb-token-desk/next';
import { isAdmin } from '@/lib/auth';
import { quickbooks } from '@/lib/integrations/quickbooks';

export const runtime = 'nodejs';
export const dynamic = 'force-dynamic';

export const { GET } = createConnectionListHandler({ quickbooks, authorize: isAdmin });
