import { useId, type ReactNode } from 'react';

/** A titled dashboard card; the section is named by its heading for screen readers. */
export function Card(props: {
  title: string;
  testId: string;
  className?: string;
  aside?: ReactNode;
  children: ReactNode;
}) {
  const headingId = useId();
  return (
    <section
      className={`card ${props.className ?? ''}`}
      aria-labelledby={headingId}
      data-testid={props.testId}
    >
      <header className="card-header">
        <h2 id={headingId}>{props.title}</h2>
        {props.aside}
      </header>
      {props.children}
    </section>
  );
}

/** A label/value row inside a card's definition list. */
export function Field(props: { label: string; children: ReactNode; testId?: string }) {
  return (
    <div className="field">
      <dt>{props.label}</dt>
      <dd data-testid={props.testId}>{props.children}</dd>
    </div>
  );
}
