// The v2 (nested) body: told apart from v1 as the website does, validated by hand with the same
// rules as schemas/model_registered.v2.schema.json, and received with its token upper-cased;
// driven by the shared vectors (payloads.v2.json), the same cases the Python tests run.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';

import {
  API_SCHEMA_REQUIRED_FIELDS,
  MODEL_REQUIRED_FIELDS,
  MODEL_STATUS,
  PATTERNS,
  PayloadError,
  SIGNATURE_HEADER,
  SOURCE,
  Shape,
  TokenIdError,
  V2_REQUIRED_FIELDS,
  payloadShape,
  payloadViolations,
  receive,
  sign,
  tokenIdOf,
  validatePayload,
} from '../src/index.js';

const contractFile = (name) => new URL(`../../../schemas/${name}`, import.meta.url);
const readJson = (name) => JSON.parse(readFileSync(contractFile(name), 'utf8'));
const V2_SCHEMA = readJson('model_registered.v2.schema.json');
const VECTORS = readJson('vectors/payloads.v2.json');
const PUBLISHER = readJson('examples/model_registered.v2.publisher.json');
const SECRET = 'whsec-v2-test';

const pathsOf = (payload) => payloadViolations(payload).map(({ path }) => path);
const withModel = (changes) => ({ ...PUBLISHER, model: { ...PUBLISHER.model, ...changes } });
const signed = (body) => ({ [SIGNATURE_HEADER]: sign(body, SECRET) });

function refusal(action) {
  try {
    action();
  } catch (error) {
    assert.ok(error instanceof PayloadError, String(error));
    return error;
  }
  assert.fail('the body was accepted');
}

describe('every v2 vector gets its verdict, paths and token', () => {
  for (const testCase of VECTORS.cases) {
    test(testCase.name, () => {
      const { expected } = testCase;
      if (expected.valid) {
        const payload = validatePayload(Buffer.from(testCase.body, 'utf8'));
        assert.deepEqual(payload, JSON.parse(testCase.body));
        assert.equal(tokenIdOf(payload), expected.token);
        assert.equal(payloadShape(payload), testCase.shape);
        return;
      }
      const error = refusal(() => validatePayload(Buffer.from(testCase.body, 'utf8')));
      assert.equal(error.problem, expected.problem);
      assert.deepEqual(error.violations.map(({ path }) => path).sort(), expected.paths);
    });
  }
});

describe('every signed v2 vector is received with its token and status normalized', () => {
  for (const testCase of VECTORS.cases) {
    test(testCase.name, () => {
      const body = Buffer.from(testCase.body, 'utf8');
      const { expected } = testCase;
      if (!expected.valid) {
        const error = refusal(() => receive(body, signed(body), SECRET));
        assert.equal(error.reason, expected.problem);
        return;
      }
      const event = receive(body, signed(body), SECRET);
      const sent = JSON.parse(testCase.body);
      assert.equal(tokenIdOf(event), expected.token);
      if (testCase.shape === Shape.V2) {
        assert.deepEqual(event, {
          ...sent,
          model: { ...sent.model, id: expected.token, status: 'REGISTERED' },
        });
      } else {
        assert.deepEqual(event, { ...sent, token_id: expected.token, status: 'REGISTERED' });
      }
    });
  }
});

describe('the hand-written v2 rules mirror the v2 schema file', () => {
  const model = V2_SCHEMA.properties.model;

  test('the required fields at each level are the schema required fields, in order', () => {
    assert.deepEqual(V2_REQUIRED_FIELDS, V2_SCHEMA.required);
    assert.deepEqual(MODEL_REQUIRED_FIELDS, model.required);
    assert.deepEqual(API_SCHEMA_REQUIRED_FIELDS, model.properties.api_schema.required);
  });

  test('every v2 pattern is the v1 pattern the client checks it with', () => {
    const sameAs = {
      timestamp: [V2_SCHEMA.properties.timestamp, 'timestamp'],
      'model.id': [model.properties.id, 'token_id'],
      'model.name': [model.properties.name, 'model_name'],
      'model.status': [model.properties.status, 'status'],
      'model.version': [model.properties.version, 'model_version'],
    };
    for (const [field, [rule, v1Field]] of Object.entries(sameAs)) {
      assert.equal(rule.pattern, PATTERNS[v1Field].source, field);
    }
    assert.deepEqual(
      Object.entries(model.properties)
        .filter(([, rule]) => rule.pattern)
        .map(([name]) => `model.${name}`)
        .sort(),
      Object.keys(sameAs).filter((f) => f.startsWith('model.')),
    );
  });

  test('the constants are the schema constants', () => {
    assert.equal(SOURCE, V2_SCHEMA.properties.source.const);
    assert.match(MODEL_STATUS, new RegExp(model.properties.status.pattern));
  });

  test('every example in the v2 schema and the v2 example files is valid', () => {
    const files = ['cli', 'publisher', 'api_schema_null'].map((name) =>
      readJson(`examples/model_registered.v2.${name}.json`),
    );
    for (const payload of [...files, ...V2_SCHEMA.examples]) {
      assert.deepEqual(payloadViolations(payload), []);
    }
  });
});

describe('telling the shapes apart', () => {
  test('a top-level token_id makes a v1 body, anything else is v2', () => {
    assert.equal(payloadShape({ token_id: 'LSCOR' }), Shape.V1);
    assert.equal(payloadShape({ token_id: 'LSCOR', model: { id: 'other' } }), Shape.V1);
    assert.equal(payloadShape({ model: { id: 'lscor' } }), Shape.V2);
    assert.equal(payloadShape({}), Shape.V2);
    assert.equal(payloadShape([{ token_id: 'LSCOR' }]), Shape.V2);
    assert.equal(payloadShape(null), Shape.V2);
  });

  test('a token_id beside a model is judged by v1 alone', () => {
    const paths = pathsOf({ ...PUBLISHER, token_id: 'LSCOR' });
    assert.ok(paths.includes('$.model_name'));
    assert.ok(!paths.some((path) => path.startsWith('$.model.')));
  });

  test('the token is token_id or model.id, upper-cased', () => {
    assert.equal(tokenIdOf({ token_id: 'lscor' }), 'LSCOR');
    assert.equal(tokenIdOf({ model: { id: 'LsCor-2' } }), 'LSCOR-2');
    assert.equal(tokenIdOf({ token_id: 'lscor', model: { id: 'other' } }), 'LSCOR');
    for (const payload of [{}, { model: 'lscor' }, { model: {} }, { model: { id: 'ls_cor' } }]) {
      assert.throws(() => tokenIdOf(payload), TokenIdError, JSON.stringify(payload));
    }
  });
});

describe('v2 validation', () => {
  test('the timestamp forms real senders write, and the one that is never valid', () => {
    const valid = [
      '2026-04-30T12:00:01Z',
      '2026-04-30T12:00:01.123456Z',
      '2026-04-30T12:00:01+00:00',
      '2026-04-30T12:00:01.123456',
    ];
    for (const timestamp of valid) assert.deepEqual(pathsOf({ ...PUBLISHER, timestamp }), []);
    for (const timestamp of ['2026-04-30T12:00:01.123456+00:00Z', '2026-04-30T12:00:01+00:00Z']) {
      assert.deepEqual(pathsOf({ ...PUBLISHER, timestamp }), ['$.timestamp']);
    }
  });

  test('api_schema may be null; every other optional field may not', () => {
    assert.deepEqual(pathsOf(withModel({ api_schema: null })), []);
    for (const name of ['version', 'run_id', 'user_id', 'eval_spec', 'scorer_ref']) {
      assert.deepEqual(pathsOf(withModel({ [name]: null })), [`$.model.${name}`], name);
    }
  });

  test('violations come in the Python client order: by the object each was found in', () => {
    const payload = {
      event_type: 'model_registered',
      model: { id: '', version: null, api_schema: { inputSchema: 3 } },
      timestamp: '2026-02-30T00:00:00Z',
      source: 'x',
    };
    assert.deepEqual(pathsOf(payload), [
      '$.model.name',
      '$.model.status',
      '$.model.api_schema.outputSchema',
      '$.model.api_schema.inputSchema',
      '$.model.id',
      '$.model.version',
      '$.source',
      '$.timestamp',
    ]);
  });

  test('a missing nested field says which object lacks it', () => {
    const [violation] = payloadViolations(withModel({ api_schema: { inputSchema: {} } }));
    assert.deepEqual(violation, {
      path: '$.model.api_schema.outputSchema',
      message: 'is missing; every api_schema object carries it',
    });
  });

  test('a number too large for a float is refused in v1 only, where it is baseline_value', () => {
    const body = JSON.stringify({ ...PUBLISHER, baseline_value: 1 }).replace(':1}', ':1e400}');
    assert.equal(validatePayload(body).timestamp, PUBLISHER.timestamp);
  });

  test('a model name that is not Unicode is refused when received, naming it', () => {
    const body = Buffer.from(
      JSON.stringify(PUBLISHER).replace('Sales lead', 'Sales \\udc00lead'),
      'utf8',
    );
    const error = refusal(() => receive(body, signed(body), SECRET));
    assert.equal(error.firstPath, '$.model.name');
  });
});
