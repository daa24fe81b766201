// Rules that hold for every input, checked on many seeded random inputs (no dependencies).
// Set PROPERTY_SEED to replay a run; a failure names the seed and the input.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  FailureReason,
  MAX_TOKEN_ID_LENGTH,
  PATTERNS,
  TokenIdRule,
  normalizeTokenId,
  sign,
  tokenIdProblem,
  verify,
} from '../src/index.js';

const SEED = Number(process.env.PROPERTY_SEED ?? 20261126);
const RUNS = 300;

/** A seeded generator (mulberry32): the same seed gives the same inputs on every run. */
function randomSource(seed) {
  let state = seed >>> 0;
  const fraction = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const integer = (below) => Math.floor(fraction() * below);
  const pick = (items) => items[integer(items.length)];
  return {
    integer,
    pick,
    bytes: (maxLength) =>
      Buffer.from(Array.from({ length: integer(maxLength + 1) }, () => integer(256))),
    text: (alphabet, maxLength) =>
      Array.from({ length: integer(maxLength + 1) }, () => pick(alphabet)).join(''),
  };
}

function forAll(generate, property) {
  const random = randomSource(SEED);
  for (let run = 0; run < RUNS; run += 1) {
    const input = generate(random);
    try {
      property(input);
    } catch (error) {
      const shown = JSON.stringify(input, (_, v) => (v?.type === 'Buffer' ? v.data : v));
      error.message += `\n(PROPERTY_SEED=${SEED}, run ${run}, input ${shown})`;
      throw error;
    }
  }
}

const HEADER_PIECES = [
  'sha256=',
  'SHA256=',
  'sha1=',
  '0',
  'a',
  'F',
  'g',
  ' ',
  '\t',
  '\n',
  '=',
  ',',
  'é',
  '\u{1F600}',
  '\0',
];
const HEADER_REASONS = new Set([
  FailureReason.MISSING_HEADER,
  FailureReason.MALFORMED_HEADER,
  FailureReason.MISMATCH,
]);
const TOKEN_ALPHABET = [...'AZaz09-', '_', ' ', '.', 'é', 'ı', '\u{1F600}', '\n'];

test('verify never throws and answers with a known reason for any header text', () => {
  forAll(
    (random) => {
      const pieces = random.text(HEADER_PIECES, 12);
      return random.integer(2)
        ? pieces
        : 'sha256=' + random.text([...'0123456789abcdefABCDEF '], 66);
    },
    (header) => {
      const verification = verify('body', header, 'secret');
      assert.equal(verification.ok, false);
      assert.ok(HEADER_REASONS.has(verification.reason), verification.reason);
    },
  );
});

test('a signature made with any secret of a rotation verifies over any bytes', () => {
  forAll(
    (random) => ({
      body: random.bytes(200),
      secrets: Array.from(
        { length: 1 + random.integer(3) },
        () => random.text([...'ab c\n1é'], 8) + 'k',
      ),
      signer: random.integer(3),
    }),
    ({ body, secrets, signer }) => {
      const index = signer % secrets.length;
      const header = sign(body, secrets[index]);
      const verification = verify(body, header, secrets);
      assert.equal(verification.ok, true);
      assert.equal(secrets[verification.secretIndex], secrets[index]);
      assert.equal(
        verify(body, header.toUpperCase().replace('SHA256=', 'sha256='), secrets).ok,
        true,
      );
    },
  );
});

test('changing any single byte of the body makes the signature mismatch', () => {
  forAll(
    (random) => {
      const body = Buffer.concat([random.bytes(100), Buffer.from([random.integer(256)])]);
      return { body, position: random.integer(body.length), delta: 1 + random.integer(255) };
    },
    ({ body, position, delta }) => {
      const header = sign(body, 'secret');
      const changed = Buffer.from(body);
      changed[position] = (changed[position] + delta) % 256;
      assert.equal(verify(changed, header, 'secret').reason, FailureReason.MISMATCH);
    },
  );
});

test('a token id is valid exactly when the schema pattern and length allow it', () => {
  forAll(
    (random) => random.text(TOKEN_ALPHABET, random.integer(3) ? 6 : 70),
    (candidate) => {
      const length = Array.from(candidate).length;
      const allowed = PATTERNS.token_id.test(candidate) && length <= MAX_TOKEN_ID_LENGTH;
      assert.equal(tokenIdProblem(candidate) === null, allowed);
    },
  );
});

test('normalizing is idempotent and yields upper case only', () => {
  forAll(
    (random) => random.text([...'abcXYZ019-'], 10).replace(/^-+|-+$/g, '') || 'x',
    (candidate) => {
      const normalized = normalizeTokenId(candidate);
      assert.match(normalized, /^[A-Z0-9-]+$/);
      assert.equal(normalizeTokenId(normalized), normalized);
      assert.equal(normalizeTokenId(candidate.toLowerCase()), normalized);
    },
  );
});

test('an invalid character is reported at its code point position, quoted whole', () => {
  forAll(
    (random) => ({
      prefix: random.text([...'AB9-'], 20),
      bad: random.pick(['_', ' ', 'é', 'ı', '\u{1F600}', '\n', '"']),
      suffix: random.text(TOKEN_ALPHABET, 5),
    }),
    ({ prefix, bad, suffix }) => {
      const problem = tokenIdProblem(prefix + bad + suffix);
      assert.equal(problem.rule, TokenIdRule.INVALID_CHARACTER);
      assert.ok(
        problem.message.includes(`has ${JSON.stringify(bad)} at position ${prefix.length};`),
        problem.message,
      );
    },
  );
});
