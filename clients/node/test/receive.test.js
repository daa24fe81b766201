// receive(): the signature over the raw bytes first, then the body, one error type; driven by
// the shared vectors, the same cases the Python tests run through contracts.receive.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';

import {
  FailureReason,
  PayloadError,
  PayloadProblem,
  ReceiveError,
  SIGNATURE_HEADER,
  SignatureError,
  receive,
  sign,
} from '../src/index.js';

const SECRET = 'whsec-receive-test';

function vectors(name) {
  const file = new URL(`../../../schemas/vectors/${name}`, import.meta.url);
  return JSON.parse(readFileSync(file, 'utf8')).cases;
}

const signatureCases = vectors('signatures.v1.json');
const payloadCases = vectors('payloads.v1.json');

function bodyOf(testCase) {
  return 'body_base64' in testCase
    ? Buffer.from(testCase.body_base64, 'base64')
    : Buffer.from(testCase.body, 'utf8');
}

const signed = (body) => ({ [SIGNATURE_HEADER]: sign(body, SECRET) });

function refusal(body, headers, secrets) {
  try {
    receive(body, headers, secrets);
  } catch (error) {
    assert.ok(error instanceof ReceiveError, String(error));
    return error;
  }
  assert.fail('the delivery was accepted');
}

describe('every signature vector is judged before the body', () => {
  for (const testCase of signatureCases) {
    test(testCase.name, () => {
      const headers = testCase.header === null ? {} : { [SIGNATURE_HEADER]: testCase.header };
      const error = refusal(bodyOf(testCase), headers, testCase.secrets);
      if (testCase.expected.valid) {
        // The signature holds, so what is refused now is the body (these are no events).
        assert.ok(error instanceof PayloadError);
      } else {
        assert.ok(error instanceof SignatureError);
        assert.equal(error.reason, testCase.expected.reason);
      }
    });
  }
});

describe('every signed payload vector gets its expected verdict', () => {
  for (const testCase of payloadCases) {
    test(testCase.name, () => {
      const body = bodyOf(testCase);
      const { expected } = testCase;
      if (expected.valid) {
        assert.deepEqual(receive(body, signed(body), SECRET), {
          ...JSON.parse(body.toString('utf8')),
          ...expected.normalized,
        });
        return;
      }
      const error = refusal(body, signed(body), SECRET);
      assert.ok(error instanceof PayloadError);
      assert.equal(error.reason, expected.problem);
      assert.deepEqual(
        error.violations.map(({ path }) => path),
        expected.paths,
      );
    });
  }
});

test('a body under a wrong signature is never parsed, whatever it holds', () => {
  for (const testCase of payloadCases) {
    const body = bodyOf(testCase);
    const error = refusal(body, { [SIGNATURE_HEADER]: sign(body, 'another secret') }, SECRET);
    assert.equal(error.reason, FailureReason.MISMATCH, testCase.name);
  }
});

test('no secret is reported before the header and the body', () => {
  for (const nothing of [null, undefined, '', [null, ''], []]) {
    assert.equal(refusal('not json', {}, nothing).reason, FailureReason.NO_SECRET_CONFIGURED);
  }
});

test('the signature header is found in any letter case and any kind of header collection', () => {
  const body = bodyOf(payloadCases[0]);
  const header = sign(body, SECRET);
  const collections = [
    { [SIGNATURE_HEADER]: header },
    { [SIGNATURE_HEADER.toLowerCase()]: header, 'content-type': 'application/json' },
    { [SIGNATURE_HEADER.toUpperCase()]: [header] },
    new Map([['x-hokusai-signature', header]]),
    new Headers({ 'X-HOKUSAI-SIGNATURE': header }),
  ];
  for (const headers of collections) {
    assert.equal(receive(body, headers, SECRET).token_id, 'LSCOR');
  }
});

test('a signature header sent twice is malformed, never either copy', () => {
  const body = bodyOf(payloadCases[0]);
  const header = sign(body, SECRET);
  const twice = { 'x-hokusai-signature': [header, header] };
  assert.equal(refusal(body, twice, SECRET).reason, FailureReason.MALFORMED_HEADER);
  const joined = new Headers([
    [SIGNATURE_HEADER, header],
    [SIGNATURE_HEADER, header],
  ]);
  assert.equal(refusal(body, joined, SECRET).reason, FailureReason.MALFORMED_HEADER);
});

test('unset and empty secrets of a rotation are ignored', () => {
  const body = bodyOf(payloadCases[0]);
  assert.equal(receive(body, signed(body), [undefined, null, '', SECRET]).status, 'REGISTERED');
});

test('text that is not Unicode is refused as a schema violation naming the field', () => {
  const body = bodyOf(payloadCases[0])
    .toString('utf8')
    .replace('"Sales lead scoring model"', '"Model \\ud800"');
  const error = refusal(body, signed(body), SECRET);
  assert.ok(error instanceof PayloadError);
  assert.equal(error.reason, PayloadProblem.SCHEMA_VIOLATION);
  assert.deepEqual(
    error.violations.map(({ path }) => path),
    ['$.model_name'],
  );
  assert.match(error.message, /unpaired surrogate/);
});

test('the one error type says what to do in words', () => {
  const body = bodyOf(payloadCases[0]);
  const unsigned = refusal(body, {}, SECRET);
  assert.equal(unsigned.reason, FailureReason.MISSING_HEADER);
  assert.match(unsigned.message, /must sign the raw body/);
  const broken = refusal('{', signed('{'), SECRET);
  assert.equal(broken.reason, PayloadProblem.INVALID_JSON);
  assert.match(broken.message, /not valid JSON/);
});

test('a parsed body is refused instead of guessing its bytes', () => {
  assert.throws(() => receive({ token_id: 'LSCOR' }, {}, SECRET), {
    name: 'TypeError',
    message: /raw body bytes/,
  });
});
