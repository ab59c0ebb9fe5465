/** The only form in which a token may be shown anywhere: an ellipsis and its last 4 characters. */
export function previewToken(value: string): string {
  return `…${value.slice(-4)}`;
}
