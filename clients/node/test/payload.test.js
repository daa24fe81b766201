// The body rules, held to the schema file they mirror and to its examples.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';

import {
  PATTERNS,
  PayloadError,
  PayloadProblem,
  REQUIRED_FIELDS,
  parseBody,
  parseTimestamp,
  payloadViolations,
  validatePayload,
} from '../src/index.js';

const contractFile = (name) => new URL(`../../../schemas/${name}`, import.meta.url);
const readJson = (name) => JSON.parse(readFileSync(contractFile(name), 'utf8'));
const SCHEMA = readJson('model_registered.v1.schema.json');
const EXAMPLE = readJson('examples/model_registered.json');

const pathsOf = (payload) => payloadViolations(payload).map(({ path }) => path);

function refusal(body) {
  try {
    validatePayload(body);
  } catch (error) {
    assert.ok(error instanceof PayloadError);
    return error;
  }
  assert.fail('the body was accepted');
}

describe('the hand-written rules mirror the schema file', () => {
  test('every pattern is the schema pattern, character for character', () => {
    for (const [field, pattern] of Object.entries(PATTERNS)) {
      assert.equal(pattern.source, SCHEMA.properties[field].pattern, field);
      assert.equal(pattern.flags, '', field);
    }
    const patterned = Object.keys(SCHEMA.properties).filter((f) => SCHEMA.properties[f].pattern);
    assert.deepEqual(Object.keys(PATTERNS).sort(), patterned.sort());
  });

  test('the required fields are the schema required fields, in order', () => {
    assert.deepEqual(REQUIRED_FIELDS, SCHEMA.required);
    assert.deepEqual(Object.keys(SCHEMA.properties), [...REQUIRED_FIELDS, 'tags']);
  });

  test('every example in the contract folder and the schema is valid', () => {
    const examples = [EXAMPLE, ...SCHEMA.examples];
    for (const payload of examples) assert.deepEqual(payloadViolations(payload), []);
    const original = readFileSync(contractFile('examples/original_integration.json'));
    assert.equal(validatePayload(original).token_id, 'LSCOR');
  });
});

describe('each field names itself when it is wrong', () => {
  const wrongValues = [
    ['event_type', 'model_deleted'],
    ['timestamp', '2025-08-21 14:42:23'],
    ['timestamp', 1755787343],
    ['token_id', 'LS_COR'],
    ['token_id', ''],
    ['model_name', '   '],
    ['model_version', 4],
    ['model_version', 'v4'],
    ['mlflow_run_id', ''],
    ['mlflow_run_id', 7],
    ['metric_name', ''],
    ['baseline_value', true],
    ['baseline_value', '0.933'],
    ['baseline_value', null],
    ['status', 'DONE'],
    ['status', 'regi\u017Ftered'],
    ['tags', []],
    ['tags', null],
  ];
  for (const [field, value] of wrongValues) {
    test(`${field} = ${JSON.stringify(value)}`, () => {
      assert.deepEqual(pathsOf({ ...EXAMPLE, [field]: value }), [`$.${field}`]);
    });
  }

  test('a tag that is not a scalar names the tag', () => {
    const tags = { ok: 'x', n: 1, b: false, nothing: null, nested: { a: 1 }, list: [] };
    assert.deepEqual(pathsOf({ ...EXAMPLE, tags }), ['$.tags.list', '$.tags.nested']);
  });

  test('a trailing newline is not swallowed by the end-of-text anchor', () => {
    for (const field of ['timestamp', 'token_id', 'model_version', 'status']) {
      assert.deepEqual(pathsOf({ ...EXAMPLE, [field]: `${EXAMPLE[field]}\n` }), [`$.${field}`]);
    }
  });

  test('the token id message is the shared token rule message', () => {
    const [violation] = payloadViolations({ ...EXAMPLE, token_id: 'LSCOR-' });
    assert.equal(
      violation.message,
      `token id "LSCOR-" ends with '-'; it must end with a letter or digit`,
    );
  });
});

test('status is accepted in any casing and unknown fields are ignored', () => {
  for (const status of ['registered', 'Registered', 'REGISTERED']) {
    assert.deepEqual(payloadViolations({ ...EXAMPLE, status, extra: { any: ['thing'] } }), []);
  }
});

test('missing fields come first, in the schema order, then wrong fields by path', () => {
  const { model_name: _name, event_type: _type, ...rest } = EXAMPLE;
  assert.deepEqual(pathsOf({ ...rest, status: 'x', baseline_value: 'y' }), [
    '$.event_type',
    '$.model_name',
    '$.baseline_value',
    '$.status',
  ]);
  assert.match(refusal(JSON.stringify(rest)).message, /\$\.event_type: is missing/);
});

test('a body that is not an object is one violation at the root', () => {
  for (const value of [[], 'text', 1, null]) {
    assert.deepEqual(pathsOf(value), ['$']);
  }
});

describe('timestamps', () => {
  const iso = (text) => parseTimestamp(text).toISOString();

  test('a value without an offset is UTC, and offsets are converted', () => {
    assert.equal(iso('2025-08-21T14:42:23.646003'), '2025-08-21T14:42:23.646Z');
    assert.equal(iso('2025-08-21t16:42:23+02:00'), '2025-08-21T14:42:23.000Z');
    assert.equal(iso('2025-08-21T14:42:23-00:30'), '2025-08-21T15:12:23.000Z');
  });

  test('a leap second reads as the second before it', () => {
    assert.equal(iso('2016-12-31T23:59:60Z'), '2016-12-31T23:59:59.000Z');
  });

  test('dates that do not exist are violations naming the timestamp', () => {
    for (const timestamp of [
      '2025-02-29T00:00:00Z',
      '2025-04-31T00:00:00Z',
      '0000-01-01T00:00:00Z',
    ]) {
      assert.deepEqual(pathsOf({ ...EXAMPLE, timestamp }), ['$.timestamp'], timestamp);
    }
    assert.deepEqual(pathsOf({ ...EXAMPLE, timestamp: '2024-02-29T00:00:00Z' }), []);
  });

  test('a moment outside years 1 to 9999 in UTC is a violation, not a crash', () => {
    for (const timestamp of ['0001-01-01T00:00:00+01:00', '9999-12-31T23:59:59-01:00']) {
      const [violation] = payloadViolations({ ...EXAMPLE, timestamp });
      assert.equal(violation.path, '$.timestamp');
      assert.match(violation.message, /outside the years 1 to 9999/);
    }
  });

  test('a malformed value is a RangeError with an example of the right shape', () => {
    assert.throws(() => parseTimestamp('yesterday'), {
      name: 'RangeError',
      message: /is not an RFC 3339 date-time such as/,
    });
  });
});

describe('parsing the raw body', () => {
  const invalidJson = (body) => {
    const error = refusal(body);
    assert.equal(error.problem, PayloadProblem.INVALID_JSON);
    assert.equal(error.firstPath, '$');
    return error.message;
  };

  test('a number too large for a 64-bit float is not finite and is refused', () => {
    const body = JSON.stringify(EXAMPLE).replace('0.933', '1e400');
    const error = refusal(body);
    assert.equal(error.problem, PayloadProblem.SCHEMA_VIOLATION);
    assert.deepEqual(
      error.violations.map(({ path }) => path),
      ['$.baseline_value'],
    );
  });

  test('a key that appears twice in one object is refused, escaped or not', () => {
    assert.match(invalidJson('{"token_id":"A","token_id":"B"}'), /key "token_id" appears twice/);
    assert.match(invalidJson('{"tags":{"a\\u0062":1,"ab":2}}'), /key "ab" appears twice/);
    assert.deepEqual(parseBody('{"a":{"a":1},"b":[{"a":1},{"a":"}"}],"c":"\\"a\\""}'), {
      a: { a: 1 },
      b: [{ a: 1 }, { a: '}' }],
      c: '"a"',
    });
  });

  test('bytes that are not UTF-8, a byte order mark and broken JSON are invalid JSON', () => {
    assert.match(invalidJson(Buffer.from([0x7b, 0xff, 0x7d])), /not UTF-8/);
    assert.match(invalidJson(Buffer.from('\uFEFF{}', 'utf8')), /byte order mark/);
    assert.match(invalidJson('{"a":1,}'), /not valid JSON/);
    assert.match(invalidJson('NaN'), /not valid JSON/);
  });

  test('a parsed object is validated as given; bytes are parsed strictly first', () => {
    assert.equal(validatePayload(EXAMPLE), EXAMPLE);
    assert.deepEqual(validatePayload(Buffer.from(JSON.stringify(EXAMPLE))), EXAMPLE);
  });
});
