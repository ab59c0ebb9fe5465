// QB_LOG_FORMAT=json: one JSON object per line for log pipelines (journald, Loki, Elastic), written
// by pino. It sits behind the secret redactor like every other sink: startDesk wraps whatever sink
// it is given in redactingLog, so pino only ever sees redacted text.
import pino, { type DestinationStream } from 'pino';
import { structuredSink, type LogFn } from './log';

export type LogFormat = 'text' | 'json';

interface JsonLogOptions {
  /** Where lines go; default stderr (stdout carries the server's start-up line). */
  destination?: DestinationStream;
}

/**
 * A LogFn writing `{"level","time","message","connection","trigger","intuit_tid",...}` lines.
 * Synchronous by default, so the last lines before an exit (a shutdown, a fatal error) are not lost.
 */
export function jsonLog(options: JsonLogOptions = {}): LogFn {
  const logger = pino(
    {
      name: 'qb-token-desk',
      messageKey: 'message',
      timestamp: pino.stdTimeFunctions.isoTime,
      // Level names, not pino's numbers: pipelines and people read "warn" without a lookup table.
      formatters: { level: (label) => ({ level: label }) },
      level: 'debug',
    },
    options.destination ?? pino.destination({ dest: 2, sync: true }),
  );
  return structuredSink((message, fields) => {
    const { level = 'info', connection, trigger, intuitTid } = fields ?? {};
    const keys: Record<string, string | null> = {};
    if (connection !== undefined) keys.connection = connection;
    if (trigger !== undefined) keys.trigger = trigger;
    if (intuitTid !== undefined) keys.intuit_tid = intuitTid;
    logger[level](keys, message);
  });
}

/** The sink QB_LOG_FORMAT asks for: JSON lines, or the human-readable default on stderr. */
export function logSink(format: LogFormat, human: LogFn): LogFn {
  return format === 'json' ? jsonLog() : human;
}
