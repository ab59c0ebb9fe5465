// Reading the headless server's status stream (Server-Sent Events) from Node: the server's tests and
// the browser specs wait on its events instead of polling against a deadline. Imports only the
// contract, so a Playwright spec can use it without loading the engine.
import { HTTP_PATHS, SSE_STATUS_EVENT, type TokenStatus } from '../../shared/contract';

/** Reads Server-Sent Events from a fetch body: yields each `status` event's parsed data. */
export async function* readStatusEvents(response: Response): AsyncGenerator<unknown> {
  if (!response.body) throw new Error('SSE response has no body');
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of response.body) {
    buffer += decoder.decode(chunk as Uint8Array, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const lines = block.split('\n');
      const event = lines.find((l) => l.startsWith('event: '))?.slice(7);
      const data = lines.find((l) => l.startsWith('data: '))?.slice(6);
      if (event === SSE_STATUS_EVENT && data !== undefined) yield JSON.parse(data);
    }
  }
}

/**
 * The first status the server's stream carries (the current one on connect, then each change) that
 * `accept` takes. No deadline of its own: the caller's test timeout bounds the wait.
 */
export async function statusFromStream(
  server: { baseUrl: string; adminToken: string },
  accept: (status: TokenStatus) => boolean,
): Promise<TokenStatus> {
  const stop = new AbortController();
  const response = await fetch(server.baseUrl + HTTP_PATHS.events, {
    headers: { authorization: `Bearer ${server.adminToken}`, accept: 'text/event-stream' },
    signal: stop.signal,
  });
  if (!response.ok) throw new Error(`the status stream answered HTTP ${response.status}`);
  try {
    for await (const status of readStatusEvents(response)) {
      if (accept(status as TokenStatus)) return status as TokenStatus;
    }
    throw new Error('the status stream ended before the status came');
  } finally {
    stop.abort();
  }
}
