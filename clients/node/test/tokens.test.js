// Token ids: the rules around the vectors that depend on how JavaScript counts characters.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { TokenIdRule, isValidTokenId, normalizeTokenId, tokenIdProblem } from '../src/index.js';

const SMILE = '\u{1F600}'; // one code point, two UTF-16 code units

test('length counts code points, not UTF-16 code units', () => {
  const problem = tokenIdProblem('A'.repeat(63) + SMILE);
  assert.equal(problem.rule, TokenIdRule.INVALID_CHARACTER);
  assert.match(problem.message, /at position 63;/);
  assert.match(tokenIdProblem(SMILE.repeat(65)).message, /is 65 characters long/);
});

test('the offending character is quoted whole, not as half a surrogate pair', () => {
  assert.match(tokenIdProblem(`AB${SMILE}`).message, new RegExp(`has "${SMILE}" at position 2;`));
});

test('letters that upper-case onto ASCII are refused, not folded', () => {
  for (const id of ['lscır', 'ſcor', 'K\u212A']) {
    assert.equal(tokenIdProblem(id).rule, TokenIdRule.INVALID_CHARACTER, id);
  }
});

test('non-strings name their JSON type', () => {
  const cases = [
    [true, 'boolean'],
    [1.5, 'number'],
    [10n, 'number'],
    [['LSCOR'], 'array'],
    [{ token_id: 'LSCOR' }, 'object'],
    [Object.create(null), 'object'],
    [undefined, 'undefined'],
    [new Map(), 'Map'],
  ];
  for (const [value, name] of cases) {
    const problem = tokenIdProblem(value);
    assert.equal(problem.rule, TokenIdRule.NOT_A_STRING);
    assert.equal(problem.message, `token id must be a string, got ${name}`);
  }
});

test('control characters are quoted with JSON escapes', () => {
  assert.equal(
    tokenIdProblem('A\tB').message,
    'token id "A\\tB" has "\\t" at position 1; ' +
      "only letters A-Z, digits 0-9 and '-' are allowed",
  );
  assert.match(tokenIdProblem('A\u0001').message, /has "\\u0001" at position 1/);
});

test('a valid id in any case normalizes to upper case', () => {
  assert.equal(normalizeTokenId('ls-c0r'), 'LS-C0R');
  assert.equal(isValidTokenId('ls-c0r'), true);
  assert.equal(isValidTokenId('ls c0r'), false);
});
