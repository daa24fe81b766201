// Token ids: 1-64 characters of A-Z, 0-9 and '-', not starting or ending with '-'.
//
// Senders upper-case before sending and receivers upper-case before lookup, so `lscor` and
// `LSCOR` name the same token. Only ASCII is accepted: toUpperCase maps some non-ASCII letters
// onto ASCII ones ('ı' and 'ſ' become 'I' and 'S'), which would let two inputs land on one token.
// Lengths and positions count Unicode code points, as every language client does.

export const MAX_TOKEN_ID_LENGTH = 64;
const ALLOWED_CHARACTER = /^[A-Za-z0-9-]$/;

/** The rule a token id broke; values are shared with the other language clients. */
export const TokenIdRule = Object.freeze({
  NOT_A_STRING: 'not_a_string',
  EMPTY: 'empty',
  TOO_LONG: 'too_long',
  INVALID_CHARACTER: 'invalid_character',
  LEADING_HYPHEN: 'leading_hyphen',
  TRAILING_HYPHEN: 'trailing_hyphen',
});

/** A token id broke one of the rules; `rule` says which and `value` holds the input. */
export class TokenIdError extends Error {
  constructor(rule, value, message) {
    super(message);
    this.name = 'TokenIdError';
    this.rule = rule;
    this.value = value;
  }
}

const quoted = (text) => JSON.stringify(text);

/** The JSON name of a value's type, so messages read the same in every language. */
export function jsonTypeName(value) {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return 'boolean';
  if (typeof value === 'number' || typeof value === 'bigint') return 'number';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'object') {
    const prototype = Object.getPrototypeOf(value);
    const plain = prototype === Object.prototype || prototype === null;
    return plain ? 'object' : (value.constructor?.name ?? 'object');
  }
  return typeof value;
}

/** The TokenIdError for `value`, or null when it is a valid token id in any case. */
export function tokenIdProblem(value) {
  if (typeof value !== 'string') {
    return new TokenIdError(
      TokenIdRule.NOT_A_STRING,
      value,
      `token id must be a string, got ${jsonTypeName(value)}`,
    );
  }
  const characters = Array.from(value);
  if (characters.length === 0) {
    return new TokenIdError(
      TokenIdRule.EMPTY,
      value,
      'token id is empty; it must be 1 to 64 characters',
    );
  }
  if (characters.length > MAX_TOKEN_ID_LENGTH) {
    return new TokenIdError(
      TokenIdRule.TOO_LONG,
      value,
      `token id ${quoted(value)} is ${characters.length} characters long; ` +
        `at most ${MAX_TOKEN_ID_LENGTH} are allowed`,
    );
  }
  const position = characters.findIndex((character) => !ALLOWED_CHARACTER.test(character));
  if (position >= 0) {
    return new TokenIdError(
      TokenIdRule.INVALID_CHARACTER,
      value,
      `token id ${quoted(value)} has ${quoted(characters[position])} at position ${position}; ` +
        "only letters A-Z, digits 0-9 and '-' are allowed",
    );
  }
  if (value.startsWith('-')) {
    return new TokenIdError(
      TokenIdRule.LEADING_HYPHEN,
      value,
      `token id ${quoted(value)} starts with '-'; it must start with a letter or digit`,
    );
  }
  if (value.endsWith('-')) {
    return new TokenIdError(
      TokenIdRule.TRAILING_HYPHEN,
      value,
      `token id ${quoted(value)} ends with '-'; it must end with a letter or digit`,
    );
  }
  return null;
}

/** `value` upper-cased, or throws TokenIdError naming the broken rule. */
export function normalizeTokenId(value) {
  const problem = tokenIdProblem(value);
  if (problem !== null) throw problem;
  return value.toUpperCase();
}

/** True when `value` is a valid token id in any case. */
export function isValidTokenId(value) {
  return tokenIdProblem(value) === null;
}
