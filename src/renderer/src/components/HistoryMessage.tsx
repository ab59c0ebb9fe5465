import { splitInstants } from '../format/time';
import { LocalTime } from './Time';

/** A server-written sentence with its UTC instants shown in local time, like the rest of the page. */
export function HistoryMessage(props: { message: string; now: number }) {
  return (
    <>
      {splitInstants(props.message).map((part, index) =>
        'iso' in part ? (
          <LocalTime key={index} iso={part.iso} ms={part.ms} now={props.now} />
        ) : (
          <span key={index}>{part.text}</span>
        ),
      )}
    </>
  );
}
