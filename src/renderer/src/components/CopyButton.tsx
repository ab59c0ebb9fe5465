import { useEffect, useState } from 'react';

type CopyState = 'idle' | 'copied' | 'failed';

async function copyText(text: string): Promise<void> {
  if (navigator.clipboard?.writeText) {
    try {
      await navigator.clipboard.writeText(text);
      return;
    } catch {
      // Permission refused (e.g. an unfocused page): fall back to a selection copy below.
    }
  }
  const area = document.createElement('textarea');
  area.value = text;
  area.setAttribute('readonly', '');
  area.className = 'offscreen';
  document.body.append(area);
  area.select();
  const ok = document.execCommand('copy');
  area.remove();
  if (!ok) throw new Error('copy refused');
}

/** Copies a non-secret value (an intuit_tid) for a support ticket. */
export function CopyButton(props: { value: string; label: string; testId?: string }) {
  const [state, setState] = useState<CopyState>('idle');
  useEffect(() => {
    if (state === 'idle') return;
    const timer = setTimeout(() => setState('idle'), 2500);
    return () => clearTimeout(timer);
  }, [state]);
  const text = state === 'copied' ? 'Copied' : state === 'failed' ? 'Copy failed: select and copy' : 'Copy';
  return (
    <button
      type="button"
      className="button small"
      // The label names what is copied; the outcome joins it, as the label alone would hide it.
      aria-label={state === 'idle' ? props.label : `${props.label}: ${text}`}
      data-testid={props.testId}
      onClick={() => {
        copyText(props.value).then(
          () => setState('copied'),
          () => setState('failed'),
        );
      }}
    >
      {text}
    </button>
  );
}
