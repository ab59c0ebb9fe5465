// The one definition of a valid connection id and company id, as every surface applies it.
import { describe, expect, it } from 'vitest';
import { isValidConnectionId, isValidRealmId } from './ids';

describe('ids', () => {
  it('a connection id is 1 to 64 letters, digits, "_" or "-"', () => {
    for (const id of ['default', 'a', 'Books_2-x', 'x'.repeat(64)])
      expect(isValidConnectionId(id)).toBe(true);
    for (const id of ['', 'x'.repeat(65), '../etc', 'a b', 'a.json', 'é', 'a\n']) {
      expect(isValidConnectionId(id)).toBe(false);
    }
  });

  it('a company (realm) id is 1 to 32 digits', () => {
    for (const id of ['1', '9130354675483296', '1'.repeat(32)]) expect(isValidRealmId(id)).toBe(true);
    for (const id of ['', '1'.repeat(33), '12a', ' 12', '-1', '1\n']) expect(isValidRealmId(id)).toBe(false);
  });
});
