import { useState } from 'react';
import type { QbEnvironment } from '../../../../shared/contract';
import { useConnections } from '../../use-connections';

/**
 * "Add company": runs Connect for a company the admin picks at Intuit, in the environment chosen
 * here (its app keys). A company already connected is reconnected instead of added twice.
 */
export function AddCompany(props: { defaultEnvironment: QbEnvironment }) {
  const [choosing, setChoosing] = useState(false);
  const [environment, setEnvironment] = useState<QbEnvironment>(props.defaultEnvironment);
  const adding = useConnections((s) => s.adding);
  const addCompany = useConnections((s) => s.addCompany);

  if (!choosing) {
    return (
      <button
        type="button"
        className="button"
        data-testid="add-company"
        onClick={() => {
          setEnvironment(props.defaultEnvironment);
          setChoosing(true);
        }}
      >
        Add company
      </button>
    );
  }
  return (
    <div className="add-company" role="group" aria-label="Add a company" data-testid="add-company-form">
      <fieldset className="environment-choice">
        <legend>Environment</legend>
        {(['sandbox', 'production'] as const).map((choice) => (
          <label key={choice}>
            <input
              type="radio"
              name="add-company-environment"
              value={choice}
              checked={environment === choice}
              onChange={() => setEnvironment(choice)}
            />
            {choice === 'sandbox' ? 'Sandbox' : 'Production'}
          </label>
        ))}
      </fieldset>
      <p className="hint">You pick the company on Intuit’s page; one already here is reconnected.</p>
      <div className="button-row">
        <button
          type="button"
          className="button primary"
          data-testid="add-company-continue"
          disabled={adding}
          aria-busy={adding}
          onClick={() => void addCompany(environment).then(() => setChoosing(false))}
        >
          {adding ? <span className="spinner" aria-hidden="true" /> : null}
          {adding ? 'Connecting…' : 'Continue to Intuit'}
        </button>
        <button type="button" className="button" disabled={adding} onClick={() => setChoosing(false)}>
          Cancel
        </button>
      </div>
    </div>
  );
}
