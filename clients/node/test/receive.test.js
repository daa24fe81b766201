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
  TIMESTAMP_OUTSIDE_TOLERANCE,
  TimestampError,
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

function refusal(body, headers, secrets, options = undefined) {
  try {
    receive(body, headers, secrets, options);
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

describe('the timestamp tolerance, when a receiver asks for one', () => {
  const NOW = new Date('2026-03-01T12:00:00Z');
  const example = JSON.parse(bodyOf(payloadCases[0]).toString('utf8'));
  const stamped = (timestamp, fields = {}) => JSON.stringify({ ...example, timestamp, ...fields });
  const options = { toleranceSeconds: 300, now: NOW };

  test('a timestamp inside the tolerance is accepted', () => {
    for (const timestamp of [
      '2026-03-01T12:04:59Z',
      '2026-03-01T11:55:01.5Z',
      '2026-03-01T12:00:00',
      '2026-03-01T13:00:00+01:00',
    ]) {
      const body = stamped(timestamp);
      assert.equal(receive(body, signed(body), SECRET, options).timestamp, timestamp);
    }
  });

  test('a timestamp outside the tolerance is refused saying by how much', () => {
    for (const [timestamp, words] of [
      ['2026-03-01T11:54:59Z', '301 s old'],
      ['2026-03-01T12:05:01Z', '301 s in the future'],
    ]) {
      const body = stamped(timestamp);
      const error = refusal(body, signed(body), SECRET, options);
      assert.ok(error instanceof TimestampError);
      assert.equal(error.reason, TIMESTAMP_OUTSIDE_TOLERANCE);
      assert.equal(error.toleranceSeconds, 300);
      assert.ok(error.message.includes(words), error.message);
      assert.ok(error.message.includes('within 300 s'), error.message);
    }
  });

  test('the tolerance is judged after the signature and before the schema', () => {
    const body = stamped('2019-01-01T00:00:00Z', { token_id: 'LS_COR' });
    const unsigned = { [SIGNATURE_HEADER]: sign(body, 'other') };
    assert.equal(refusal(body, unsigned, SECRET, options).reason, FailureReason.MISMATCH);
    assert.ok(refusal(body, signed(body), SECRET, options) instanceof TimestampError);
  });

  test('a timestamp the schema refuses is left to the schema', () => {
    for (const [body, problem] of [
      [stamped('yesterday'), PayloadProblem.SCHEMA_VIOLATION],
      ['[]', PayloadProblem.SCHEMA_VIOLATION],
      ['"2019-01-01T00:00:00Z"', PayloadProblem.SCHEMA_VIOLATION],
      ['{', PayloadProblem.INVALID_JSON],
    ]) {
      const error = refusal(body, signed(body), SECRET, options);
      assert.ok(error instanceof PayloadError, body);
      assert.equal(error.reason, problem, body);
    }
  });

  test('no tolerance is enforced unless asked for', () => {
    const body = stamped('2019-01-01T00:00:00Z');
    assert.equal(receive(body, signed(body), SECRET).timestamp, '2019-01-01T00:00:00Z');
  });

  test('a tolerance that is not a positive number is refused as a mistake', () => {
    const body = stamped('2026-03-01T12:00:00Z');
    for (const toleranceSeconds of [0, -5, Number.NaN, '300']) {
      assert.throws(() => receive(body, signed(body), SECRET, { toleranceSeconds }), {
        name: 'TypeError',
        message: /positive number of seconds/,
      });
    }
  });
});
