/**
 * What a merchant may write: names that cannot pass for one another (service/merchant-names.ts),
 * text the page can show as it is (service/display-text.ts), and public data that names no person
 * (service/personal-data.ts).
 */
import { describe, expect, it } from 'vitest';
import { displaySafe, displayTextProblem } from '../../src/service/display-text.ts';
import { nameKey, skeleton } from '../../src/service/merchant-names.ts';
import { checkEventData, checkRecordTexts } from '../../src/service/merchant-text.ts';
import { personalKey } from '../../src/service/personal-data.ts';
import type { RecordInput } from '../../src/service/registration.ts';

describe('merchant name keys', () => {
  it.each([
    ['Alpha Cards', 'Аlpha Cards'], // Cyrillic А
    ['Alpha Cards', 'ALPHA CARDS'],
    ['Alpha Cards', 'alpha  cards '],
    ['Alpha Cards', 'Ａｌｐｈａ Ｃａｒｄｓ'], // full-width
    ['Alpha Cards', 'AIpha Cards'], // capital I for l
    ['Alpha Cards', 'A1pha Cards'],
    ['Alpha Cards', 'Alpha Cαrds'], // Greek alpha
    ['Modern Keys', 'rnodern Keys'],
    ['Straße Keys', 'STRASSE KEYS'],
    ['星辰卡盟 Star Cards', '星辰卡盟 Ѕtar Cards'], // Cyrillic Ѕ
    ['Café Keys', 'Cafe\u0301 Keys'], // composed and decomposed
  ])('"%s" and "%s" are the same name', (a, b) => {
    expect(nameKey(a)).toBe(nameKey(b));
  });

  it.each([
    ['Alpha Cards', 'Alpha Card'],
    ['Alpha Cards', 'Beta Cards'],
    ['星辰卡盟', '星河卡盟'],
    ['Keys 1', 'Keys 2'],
  ])('"%s" and "%s" are different names', (a, b) => {
    expect(nameKey(a)).not.toBe(nameKey(b));
  });

  it("uses Unicode's confusable prototypes", () => {
    expect(skeleton('раураl')).toBe('paypal');
    expect(skeleton('ℓ')).toBe('l');
  });
});

describe('text the page shows', () => {
  it.each([
    ['正品 genuine ✓\u202e', 'holds U+202E, a bidi control'],
    ['\u2066pending\u2069', 'holds U+2066, a bidi control'],
    ['Alpha\u200bCards', 'holds U+200B, an invisible character'],
    ['Alpha\u200dCards', 'holds U+200D, an invisible character'],
    ['soft\u00adhyphen', 'holds U+00AD, an invisible character'],
    ['\ufeffBOM', 'holds U+FEFF, an invisible character'],
    ['line\nbreak', 'holds U+000A, a control character'],
    ['bell\u0007', 'holds U+0007, a control character'],
    ['c1\u0085', 'holds U+0085, a control character'],
    ['sep\u2028', 'holds U+2028, a line or paragraph separator'],
    ['private \ue000', 'holds U+E000, a private-use character'],
    ['tag \u{e0041}', 'holds U+E0041, an invisible formatting character'],
    ['\u3164', 'holds U+3164, an invisible character'],
    ['\u2800\u2800', 'holds U+2800, an invisible character'],
    ['   ', 'is blank'],
    ['\u3000\u00a0', 'is blank'],
    ['\u0301\u0301', 'is blank'],
    ['', 'is blank'],
  ])('refuses %j: %s', (text, problem) => {
    expect(displayTextProblem(text)).toBe(problem);
  });

  it.each(['Windows 11 专业版 Pro', '正品 genuine ✓', 'Ünïcödé', '👍🏽 emoji', 'عربي', 'x'])(
    'accepts %j',
    (text) => {
      expect(displayTextProblem(text)).toBeNull();
    },
  );

  it('refuses exactly the code points the per-character rule forbids (every code point)', () => {
    // displayTextProblem answers text without a forbidden character from one regular expression;
    // displaySafe walks it character by character. Both must forbid the same code points.
    const differ: string[] = [];
    for (let cp = 0; cp <= 0x10ffff; cp++) {
      const text = `x${String.fromCodePoint(cp)}`;
      const walked = displaySafe(text) !== text;
      const problem = displayTextProblem(text);
      const refused = problem !== null && problem.startsWith('holds ');
      if (walked !== refused) differ.push(cp.toString(16));
    }
    expect(differ).toEqual([]);
  });

  it('neutralises what is stored already, character by character', () => {
    expect(displaySafe('正品\u202e ok\u200b')).toBe('正品\ufffd ok\ufffd');
    expect(displaySafe('plain')).toBe('plain');
  });
});

describe('personal data in public data', () => {
  it.each([
    ['buyer', 'buyer'],
    ['buyerName', 'buyer'],
    ['buyer_name', 'buyer'],
    ['name', 'name'],
    ['customerEmail', 'customer'],
    ['email', 'email'],
    ['e-mail', 'mail'],
    ['phone', 'phone'],
    ['mobileNumber', 'mobilenumber'],
    ['shippingAddress', 'address'],
    ['ID card', 'idcard'],
    ['idNumber', 'idnumber'],
    ['QQ', 'qq'],
    ['qqNumber', 'qq'],
    ['weChatId', 'wechat'],
    ['WeChat', 'wechat'],
    ['买家', '买家'],
    ['收货人姓名', '姓名'],
    ['身份证号', '身份证'],
    ['手机号', '手机'],
    ['QQ号', 'qq号'],
    ['微信', '微信'],
  ])('refuses the key %j (%s)', (key, found) => {
    expect(personalKey(key)).toBe(found);
  });

  it.each([
    'productName',
    'channel',
    'region',
    'faceValue',
    'seats',
    'edition',
    'previousOwners',
    'to',
    'reason',
    '渠道',
  ])('accepts the key %j', (key) => {
    expect(personalKey(key)).toBeNull();
  });
});

describe('checks on a registration and on event data', () => {
  const input = (change: Partial<RecordInput> = {}): RecordInput => ({
    externalId: 'e1',
    kind: 'licence',
    sku: 'SKU-1',
    productName: 'Product',
    serial: 'SN-1',
    ...change,
  });

  it('names the field, and the code says what is wrong', () => {
    const refusal = (f: () => void) => {
      try {
        f();
      } catch (err) {
        return { code: (err as { code: string }).code, message: (err as Error).message };
      }
      return null;
    };
    expect(
      refusal(() => checkRecordTexts([input(), input({ productName: '正品 genuine ✓\u202e' })])),
    ).toEqual({
      code: 'unsafe_text',
      message: expect.stringMatching(/^records\[1\]\.productName holds U\+202E, a bidi control/),
    });
    expect(refusal(() => checkRecordTexts([input({ serial: '\u200b' })]))).toMatchObject({
      code: 'unsafe_text',
      message: expect.stringMatching(/^records\[0\]\.serial /),
    });
    expect(refusal(() => checkRecordTexts([input({ sku: ' ' })]))).toMatchObject({
      code: 'blank_text',
      message: expect.stringMatching(/^records\[0\]\.sku is blank/),
    });
    expect(refusal(() => checkRecordTexts([input({ metadata: { 'a\u202eb': 1 } })]))).toMatchObject({
      code: 'unsafe_text',
      message: expect.stringMatching(/^records\[0\]\.metadata key "a\u202eb" holds U\+202E/),
    });
    expect(refusal(() => checkRecordTexts([input({ metadata: { owner: 'x' } })]))).toMatchObject({
      code: 'personal_data',
      message: expect.stringMatching(/^records\[0\]\.metadata key "owner" names personal data \(owner\)/),
    });
    expect(refusal(() => checkEventData({ note: 'mail me at a@b.example' }))).toMatchObject({
      code: 'personal_data',
      message: expect.stringMatching(/^data\.note holds an email address/),
    });
    expect(refusal(() => checkEventData({ channel: '\u2067卡盟' }))).toMatchObject({
      code: 'unsafe_text',
      message: expect.stringMatching(/^data\.channel holds U\+2067/),
    });
    expect(refusal(() => checkEventData({ channel: '卡盟', price: 12.5, gift: false }))).toBeNull();
    expect(refusal(() => checkEventData(undefined))).toBeNull();
    expect(refusal(() => checkRecordTexts([input({ metadata: { region: 'CN', seats: 5 } })]))).toBeNull();
  });
});
