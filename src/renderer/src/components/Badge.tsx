import type { ReactNode } from 'react';
import type { Tone } from '../format/labels';

export function Badge(props: { tone?: Tone; testId?: string; title?: string; children: ReactNode }) {
  return (
    <span className={`badge tone-${props.tone ?? 'neutral'}`} data-testid={props.testId} title={props.title}>
      {props.children}
    </span>
  );
}
