// One real PostgreSQL server for a vitest file: started before its first test, stopped after its
// last (also when a test failed), and running again after each test (a fault test may stop it).
// Each test takes a fresh database with createDatabase(): cheap, and no test sees another's rows.
import { afterAll, afterEach, beforeAll } from 'vitest';
import { PostgresServer, type PostgresServerOptions } from './postgres-server';

export function postgresForFile(options: PostgresServerOptions = {}): () => PostgresServer {
  let server: PostgresServer | null = null;
  beforeAll(async () => {
    server = await PostgresServer.start(options);
  }, 60_000);
  afterEach(async () => {
    if (server && !server.running) await server.restart();
  });
  afterAll(async () => {
    await server?.close();
  });
  return () => {
    if (!server) throw new Error('the PostgreSQL server is not started (use it inside a test)');
    return server;
  };
}
