// Stands in for your app's own session check: token management is for admins only. Here a
// request is an admin's when it carries `Authorization: Bearer <EXAMPLE_ADMIN_SECRET>`.
import { timingSafeEqual } from 'node:crypto';

export function isAdmin(request: Request): boolean {
  const secret = process.env.EXAMPLE_ADMIN_SECRET;
  const sent = request.headers.get('authorization')?.match(/^Bearer (.+)$/)?.[1];
  if (!secret || !sent) return false;
  const [a, b] = [Buffer.from(sent), Buffer.from(secret)];
  return a.length === b.length && timingSafeEqual(a, b);
}
