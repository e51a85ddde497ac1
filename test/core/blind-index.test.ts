import { describe, expect, it } from 'vitest';
import { normaliseForIndex } from '../../src/core/index.ts';

describe('normaliseForIndex', () => {
  it('licence: case, spaces, dashes, underscores and dots make no different key', () => {
    const a = normaliseForIndex('licence', 'VK7JG-NPHTM-C97JM-9MPGT-3V66T');
    expect(a).toBe('vk7jgnphtmc97jm9mpgt3v66t');
    for (const spelling of [
      'vk7jg npHtm c97jm 9mpgt 3v66t',
      ' vk7jg_nphtm.c97jm\t9mpgt—3v66t ',
      'ＶＫ７ＪＧ－ＮＰＨＴＭ－Ｃ９７ＪＭ－９ＭＰＧＴ－３Ｖ６６Ｔ', // full-width, NFKC
      'VK7JG\u2010NPHTM\u2013C97JM\u00a09MPGT\u30003V66T',
    ]) {
      expect(normaliseForIndex('licence', spelling)).toBe(a);
    }
    expect(normaliseForIndex('licence', 'VK7JG-NPHTM-C97JM-9MPGT-3V66X')).not.toBe(a);
  });

  it('licence: full case folding (ß is ss) and nothing but separators is empty', () => {
    expect(normaliseForIndex('licence', 'STRASSE')).toBe(normaliseForIndex('licence', 'straße'));
    expect(normaliseForIndex('licence', ' -_. ')).toBe('');
  });

  it('card: only letters and digits count, case folded', () => {
    expect(normaliseForIndex('card', '1234 5678-90')).toBe('1234567890');
    expect(normaliseForIndex('card', 'ab/12#Cd')).toBe(normaliseForIndex('card', 'AB12CD'));
    expect(normaliseForIndex('card', '٤٢')).toBe('٤٢'); // digits of other scripts are kept
    expect(normaliseForIndex('card', '1234')).not.toBe(normaliseForIndex('card', '1243'));
  });

  it('account: trimmed and case folded, inner characters kept', () => {
    expect(normaliseForIndex('account', '  Alice@Example.com:pw ')).toBe('alice@example.com:pw');
    expect(normaliseForIndex('account', 'a b')).not.toBe(normaliseForIndex('account', 'ab'));
    expect(normaliseForIndex('account', 'a-b')).not.toBe(normaliseForIndex('account', 'ab'));
  });

  it('is idempotent for every kind', () => {
    for (const kind of ['licence', 'card', 'account'] as const) {
      for (const s of ['VK7JG-NPHTM', ' Ǆ ß ﬁ ', '١٢٣٤-abc']) {
        const once = normaliseForIndex(kind, s);
        expect(normaliseForIndex(kind, once)).toBe(once);
      }
    }
  });
});
