// A native <meter>: accessible as a gauge, coloured by its low/high thresholds, and styled from
// the stylesheet alone (no inline styles under the page's CSP).
export function LifetimeBar(props: { label: string; fraction: number; lowBelow: number; testId?: string }) {
  const value = Math.round(props.fraction * 1000) / 1000;
  return (
    <meter
      className="lifetime-bar"
      aria-label={props.label}
      data-testid={props.testId}
      min={0}
      max={1}
      low={props.lowBelow}
      high={Math.min(1, props.lowBelow * 2)}
      optimum={1}
      value={value}
    >
      {Math.round(value * 100)}%
    </meter>
  );
}
