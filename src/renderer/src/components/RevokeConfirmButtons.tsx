/**
 * The buttons under a revoke-first confirmation (Disconnect, Remove company): the action, which
 * becomes "… anyway" once Intuit could not revoke, and Cancel.
 */
export function RevokeConfirmButtons(props: {
  /** data-testid of the action button: before the revoke failed, and after. */
  testIds: { confirm: string; force: string };
  labels: { confirm: string; force: string; busy: string };
  busy: boolean;
  revokeFailed: boolean;
  onConfirm: (force: boolean) => void;
  onCancel: () => void;
}) {
  const { testIds, labels, busy, revokeFailed } = props;
  return (
    <div className="button-row">
      <button
        type="button"
        className="button danger"
        data-testid={revokeFailed ? testIds.force : testIds.confirm}
        disabled={busy}
        aria-busy={busy}
        onClick={() => props.onConfirm(revokeFailed)}
      >
        {busy ? <span className="spinner" aria-hidden="true" /> : null}
        {busy ? labels.busy : revokeFailed ? labels.force : labels.confirm}
      </button>
      <button type="button" className="button" disabled={busy} onClick={props.onCancel}>
        Cancel
      </button>
    </div>
  );
}
