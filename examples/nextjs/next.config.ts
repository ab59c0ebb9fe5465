import type { NextConfig } from 'next';

const nextConfig: NextConfig = {
  // The token engine reads files, takes file locks and keeps a schedule: it runs as a plain Node
  // package on the server, never bundled into a route.
  serverExternalPackages: ['qb-token-desk'],
  // This folder is its own project (its own lockfile), even though it sits inside the desk's repository.
  turbopack: { root: import.meta.dirname },
};

export default nextConfig;
