/**
 * Event data and metadata are for the item, not for people: they are public, hashed into a leaf and
 * anchored for good, so a buyer's name put there could never be taken back. Keys that plainly name
 * personal data, and values shaped like an email address, are refused (400 `personal_data`). The
 * list is in README ("What may go in metadata and data"); it catches the obvious, not every way of
 * writing a name, and the merchant stays responsible for what it publishes.
 */
import { badRequest, type ServiceError } from './errors.ts';

/** A key is refused when one of its words (camelCase, snake_case, kebab-case or spaced) is one of these. */
const PERSONAL_WORDS = new Set([
  'buyer',
  'buyers',
  'customer',
  'purchaser',
  'recipient',
  'consignee',
  'receiver',
  'owner',
  'holder',
  'username',
  'nickname',
  'fullname',
  'firstname',
  'lastname',
  'surname',
  'realname',
  'email',
  'mail',
  'phone',
  'tel',
  'telephone',
  'cellphone',
  'address',
  'addr',
  'contact',
  'passport',
  'ssn',
  'birthday',
  'birthdate',
  'dob',
  'qq',
  'wechat',
  'weixin',
  'alipay',
]);

/** A key is refused when, lowercased and with separators removed, it contains one of these. */
const PERSONAL_PARTS = [
  'idcard',
  'idnumber',
  'cardholder',
  'email',
  'wechat',
  'weixin',
  'phonenumber',
  'mobilenumber',
  'mobilephone',
  '姓名',
  '名字',
  '买家',
  '顾客',
  '客户',
  '收货人',
  '收件人',
  '联系人',
  '联系方式',
  '手机',
  '电话',
  '邮箱',
  '地址',
  '身份证',
  '证件号',
  '微信',
  'qq号',
  '护照',
  '生日',
];

/** An email address anywhere in a value. */
const EMAIL = /[^\s@]+@[^\s@]+\.[^\s@]+/u;

/** The words of a key: split at case changes and at anything that is not a letter or digit. */
function words(key: string): string[] {
  return key
    .normalize('NFKC')
    .replace(/(\p{Ll})(\p{Lu})/gu, '$1 $2')
    .replace(/(\p{Lu})(\p{Lu}\p{Ll})/gu, '$1 $2')
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((w) => w !== '');
}

/**
 * personalKey's answers by key: a registration repeats the same few metadata keys on every record.
 * Bounded; emptied when full (keys a merchant chooses, so no attacker-grown memory).
 */
const KEY_ANSWERS = new Map<string, string | null>();
const KEY_ANSWERS_MAX = 4096;

/** What in `key` looks like personal data, or null. */
export function personalKey(key: string): string | null {
  const known = KEY_ANSWERS.get(key);
  if (known !== undefined) return known;
  const found = personalKeyOf(key);
  if (KEY_ANSWERS.size >= KEY_ANSWERS_MAX) KEY_ANSWERS.clear();
  KEY_ANSWERS.set(key, found);
  return found;
}

function personalKeyOf(key: string): string | null {
  const parts = words(key);
  // "name" alone: whose? ("productName", "skuName" name the item and pass.)
  if (parts.length === 1 && parts[0] === 'name') return 'name';
  const word = parts.find((w) => PERSONAL_WORDS.has(w));
  if (word) return word;
  const joined = parts.join('');
  return PERSONAL_PARTS.find((p) => joined.includes(p)) ?? null;
}

/**
 * 400 `personal_data` for the first key or value of `data` (called `field` in the message) that
 * looks like personal data, or null.
 */
export function personalDataError(
  field: string,
  data: Record<string, unknown> | undefined,
): ServiceError | null {
  for (const [key, value] of Object.entries(data ?? {})) {
    const found = personalKey(key);
    if (found) {
      return badRequest(
        'personal_data',
        `${field} key "${key}" names personal data (${found}): ${field} is public and permanent; describe the item, never a person`,
      );
    }
    if (typeof value === 'string' && EMAIL.test(value)) {
      return badRequest(
        'personal_data',
        `${field}.${key} holds an email address: ${field} is public and permanent; describe the item, never a person`,
      );
    }
  }
  return null;
}
