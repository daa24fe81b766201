// The shared known-answer vectors under schemas/vectors/, the same files the Python tests load.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';

import {
  FailureReason,
  PayloadError,
  PayloadProblem,
  TokenIdError,
  TokenIdRule,
  normalizeTokenId,
  sign,
  validatePayload,
  verify,
} from '../src/index.js';

function vectors(name) {
  const file = new URL(`../../../schemas/vectors/${name}`, import.meta.url);
  return JSON.parse(readFileSync(file, 'utf8'));
}

const signatureCases = vectors('signatures.v1.json').cases;
const tokenCases = vectors('token_ids.v1.json').cases;
const payloadCases = vectors('payloads.v1.json').cases;

function bodyOf(testCase) {
  return 'body_base64' in testCase
    ? Buffer.from(testCase.body_base64, 'base64')
    : Buffer.from(testCase.body, 'utf8');
}

describe('every signature vector gets its expected verdict', () => {
  for (const testCase of signatureCases) {
    test(testCase.name, () => {
      const verification = verify(bodyOf(testCase), testCase.header, testCase.secrets);
      assert.equal(verification.ok, testCase.expected.valid);
      assert.equal(verification.reason, testCase.expected.reason);
      if ('secret_index' in testCase.expected) {
        assert.equal(verification.secretIndex, testCase.expected.secret_index);
      }
    });
  }
});

describe('sign reproduces every signing vector', () => {
  for (const testCase of signatureCases.filter((c) => c.sign_produces_header)) {
    test(testCase.name, () => {
      assert.equal(sign(bodyOf(testCase), testCase.secrets[0]), testCase.header);
    });
  }
});

test('text bodies verify like their UTF-8 bytes on every text vector', () => {
  for (const testCase of signatureCases.filter((c) => 'body' in c)) {
    const verification = verify(testCase.body, testCase.header, testCase.secrets);
    assert.equal(verification.reason, testCase.expected.reason, testCase.name);
  }
});

test('the signature vectors cover every failure reason', () => {
  const reasons = new Set(signatureCases.map((c) => c.expected.reason));
  assert.deepEqual(reasons, new Set([...Object.values(FailureReason), null]));
  assert.deepEqual(vectors('signatures.v1.json').reasons, Object.values(FailureReason));
});

describe('every token id vector normalizes or fails with the same rule and message', () => {
  for (const testCase of tokenCases) {
    test(testCase.name, () => {
      if (testCase.error === null) {
        assert.equal(normalizeTokenId(testCase.input), testCase.normalized);
        return;
      }
      assert.throws(
        () => normalizeTokenId(testCase.input),
        (error) => {
          assert.ok(error instanceof TokenIdError);
          assert.equal(error.rule, testCase.error.rule);
          assert.equal(error.message, testCase.error.message);
          assert.equal(error.value, testCase.input);
          return true;
        },
      );
    });
  }
});

test('the token id vectors name exactly the rules this client knows', () => {
  assert.deepEqual(vectors('token_ids.v1.json').rules, Object.values(TokenIdRule));
});

describe('every payload vector gets its expected verdict', () => {
  for (const testCase of payloadCases) {
    test(testCase.name, () => {
      const body = bodyOf(testCase);
      if (testCase.expected.valid) {
        assert.deepEqual(validatePayload(body), JSON.parse(body.toString('utf8')));
        return;
      }
      assert.throws(
        () => validatePayload(body),
        (error) => {
          assert.ok(error instanceof PayloadError);
          assert.equal(error.problem, testCase.expected.problem);
          assert.deepEqual(
            error.violations.map(({ path }) => path),
            testCase.expected.paths,
          );
          return true;
        },
      );
    });
  }
});

test('the payload vectors name exactly the problems this client knows', () => {
  assert.deepEqual(vectors('payloads.v1.json').problems, Object.values(PayloadProblem));
});
