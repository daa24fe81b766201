// The reference receiver over real HTTP: every row of the contract's receiver table.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';

import { DEFAULT_MAX_BODY_BYTES, ErrorReason, startServer } from '../src/handler.js';
import { DEFAULT_PATH, IDEMPOTENCY_KEY_HEADER, SIGNATURE_HEADER, sign } from '../src/index.js';

const SECRET = 'whsec-reference-receiver';
const contractFile = (name) => new URL(`../../../schemas/${name}`, import.meta.url);
const EXAMPLE = JSON.parse(readFileSync(contractFile('examples/model_registered.json'), 'utf8'));

/** Property names and required names of a component schema in openapi.yaml (2-space YAML). */
function openapiShape(name) {
  const lines = readFileSync(contractFile('openapi.yaml'), 'utf8').split('\n');
  const start = lines.indexOf(`    ${name}:`);
  const end = lines.findIndex((line, index) => index > start && /^ {0,4}\S/.test(line));
  const block = lines.slice(start + 1, end);
  const required = block.find((line) => line.startsWith('      required:'));
  return {
    properties: block.map((line) => /^ {8}(\w+):/.exec(line)?.[1]).filter(Boolean),
    required: required
      .replace(/.*\[|\].*/g, '')
      .split(',')
      .map((item) => item.trim()),
    text: block.join('\n'),
  };
}

const ACCEPTED = openapiShape('Accepted');
const ERROR = openapiShape('Error');

function assertShape(shape, body) {
  for (const field of shape.required) assert.ok(field in body, `missing ${field}`);
  for (const field of Object.keys(body)) {
    assert.ok(shape.properties.includes(field), `${field} is not in the OpenAPI shape`);
  }
}

/** Assert an error answer: status, reason, the Error shape, and an error sentence. */
async function assertRefused(response, status, reason) {
  const body = await response.json();
  assert.equal(response.status, status, JSON.stringify(body));
  assert.match(response.headers.get('content-type'), /^application\/json/);
  assertShape(ERROR, body);
  assert.equal(body.success, false);
  assert.equal(body.reason, reason);
  assert.equal(typeof body.error, 'string');
  assert.ok(body.error.length > 20, body.error);
  return body;
}

/** Assert a 400 answer that names `field` as the first offending one. */
async function assertBadField(response, reason, field) {
  const body = await assertRefused(response, 400, reason);
  assert.equal(body.field, field);
  return body;
}

async function assertAccepted(response, duplicate) {
  const body = await response.json();
  assert.equal(response.status, 200, JSON.stringify(body));
  assertShape(ACCEPTED, body);
  assert.equal(body.success, true);
  assert.equal(body.status, 'REGISTERED');
  assert.equal(body.duplicate, duplicate);
  return body;
}

const freshEvent = (fields = {}) => ({
  ...EXAMPLE,
  timestamp: new Date().toISOString(),
  ...fields,
});

/** Receivers started for a group of tests on a free port, stopped after it. */
function receiverFor(options) {
  const receiver = {};
  before(async () => Object.assign(receiver, await startServer(options)));
  after(() => receiver.close());
  receiver.post = (body, { secret = SECRET, headers = {} } = {}) => {
    const bytes = Buffer.isBuffer(body) || typeof body === 'string' ? body : JSON.stringify(body);
    return fetch(receiver.url + DEFAULT_PATH, {
      method: 'POST',
      body: bytes,
      headers: {
        'Content-Type': 'application/json',
        ...(secret ? { [SIGNATURE_HEADER]: sign(bytes, secret) } : {}),
        ...headers,
      },
    });
  };
  receiver.token = async (id) => (await fetch(`${receiver.url}/api/tokens/${id}`)).json();
  return receiver;
}

describe('a receiver with a secret and DRAFT tokens', () => {
  const receiver = receiverFor({
    secrets: ['old-secret', SECRET],
    tokens: ['LSCOR', 'ABC', 'DUP', 'KEYED', 'CASE', 'SPACED', 'ESCAPED', 'UNTOUCHED'],
  });

  test('a valid delivery moves the token from DRAFT to REGISTERED', async () => {
    assert.equal((await receiver.token('LSCOR')).status, 'DRAFT');
    const body = await assertAccepted(await receiver.post(freshEvent()), false);
    assert.deepEqual(body, {
      success: true,
      token_id: 'LSCOR',
      status: 'REGISTERED',
      model_version: '4',
      duplicate: false,
      message: 'token LSCOR moved from DRAFT to REGISTERED',
    });
    const token = await receiver.token('lscor');
    assert.equal(token.success, true);
    assert.equal(token.status, 'REGISTERED');
    assert.equal(token.model_version, '4');
  });

  test('a lower-case token id and status are looked up upper-cased', async () => {
    const body = await assertAccepted(
      await receiver.post(freshEvent({ token_id: 'case', status: 'registered' })),
      false,
    );
    assert.equal(body.token_id, 'CASE');
  });

  test('an already REGISTERED token answers duplicate without a second transition', async () => {
    await assertAccepted(await receiver.post(freshEvent({ token_id: 'DUP' })), false);
    const first = await receiver.token('DUP');
    const again = await assertAccepted(
      await receiver.post(freshEvent({ token_id: 'DUP', model_version: '5' })),
      true,
    );
    assert.equal(again.model_version, '4');
    assert.deepEqual(await receiver.token('DUP'), first);
  });

  test('a repeated idempotency key answers duplicate', async () => {
    const headers = { [IDEMPOTENCY_KEY_HEADER]: '6f1c1f0e-8b1e-5d3a-9c55-1a0c6d1b2e3f' };
    await assertAccepted(
      await receiver.post(freshEvent({ token_id: 'KEYED' }), { headers }),
      false,
    );
    const resent = await receiver.post(freshEvent({ token_id: 'KEYED' }), { headers });
    assert.equal((await assertAccepted(resent, true)).token_id, 'KEYED');
  });

  test('spaced and \\u-escaped bodies verify over their own bytes', async () => {
    const spaced = JSON.stringify(freshEvent({ token_id: 'SPACED' }), null, 1);
    await assertAccepted(await receiver.post(spaced), false);
    const escaped = JSON.stringify(
      freshEvent({ token_id: 'ESCAPED', model_name: 'Modèle' }),
    ).replace('è', '\\u00e8');
    await assertAccepted(await receiver.post(escaped), false);
    assert.equal((await receiver.token('ESCAPED')).model_name, 'Modèle');
  });

  test('any secret of the rotation is accepted', async () => {
    const response = await receiver.post(freshEvent({ token_id: 'ABC' }), { secret: 'old-secret' });
    await assertAccepted(response, false);
  });

  describe('signature failures are 401 and change nothing', () => {
    const event = freshEvent({ token_id: 'UNTOUCHED' });
    const cases = [
      ['no header', { secret: null }, ErrorReason.MISSING_HEADER],
      [
        'a bare digest',
        { headers: { [SIGNATURE_HEADER]: sign('x', SECRET).slice(7) } },
        ErrorReason.MALFORMED_HEADER,
      ],
      [
        'the wrong name',
        { secret: null, headers: { 'X-MLflow-Signature': sign(JSON.stringify(event), SECRET) } },
        ErrorReason.MISSING_HEADER,
      ],
      ['another secret', { secret: 'not-the-secret' }, ErrorReason.MISMATCH],
      ['a trailing newline in the secret', { secret: `${SECRET}\n` }, ErrorReason.MISMATCH],
    ];
    for (const [name, options, reason] of cases) {
      test(name, async () => {
        await assertRefused(await receiver.post(event, options), 401, reason);
        assert.equal((await receiver.token('UNTOUCHED')).status, 'DRAFT');
      });
    }

    test('the signature over JSON.stringify of the parsed body does not match spaced bytes', async () => {
      const spaced = JSON.stringify(event, null, 2);
      const reserialized = JSON.stringify(JSON.parse(spaced));
      const response = await fetch(receiver.url + DEFAULT_PATH, {
        method: 'POST',
        body: spaced,
        headers: { [SIGNATURE_HEADER]: sign(reserialized, SECRET) },
      });
      await assertRefused(response, 401, ErrorReason.MISMATCH);
    });

    test('the signature is checked before the body is parsed', async () => {
      await assertRefused(
        await receiver.post('not json', { secret: 'wrong' }),
        401,
        ErrorReason.MISMATCH,
      );
    });
  });

  describe('bodies that break the contract are 400 naming the field', () => {
    test('not JSON', async () => {
      await assertBadField(await receiver.post('{"token_id": '), ErrorReason.INVALID_JSON, '$');
    });

    test('a duplicated key', async () => {
      const text = `{"token_id":"ABC",${JSON.stringify(freshEvent()).slice(1)}`;
      await assertRefused(await receiver.post(text), 400, ErrorReason.INVALID_JSON);
    });

    const violations = [
      [{ token_id: 'LS_COR' }, '$.token_id'],
      [{ event_type: 'model_deleted' }, '$.event_type'],
      [{ timestamp: '21/08/2025 14:42' }, '$.timestamp'],
      [{ model_version: 4 }, '$.model_version'],
      [{ baseline_value: true }, '$.baseline_value'],
      [{ status: 'DONE' }, '$.status'],
      [{ tags: { nested: { no: 1 } } }, '$.tags.nested'],
      [{ model_name: undefined }, '$.model_name'],
    ];
    for (const [fields, path] of violations) {
      test(path, async () => {
        const response = await receiver.post(freshEvent(fields));
        const body = await assertBadField(response, ErrorReason.SCHEMA_VIOLATION, path);
        assert.ok(body.error.includes(path), body.error);
        assert.equal(body.violations[0].path, path);
      });
    }
  });

  test('an unknown token is 404', async () => {
    const body = await assertRefused(
      await receiver.post(freshEvent({ token_id: 'NOPE' })),
      404,
      ErrorReason.UNKNOWN_TOKEN,
    );
    assert.match(body.error, /NOPE/);
  });

  test('a body over the limit is 413, declared or streamed', async () => {
    const big = Buffer.alloc(DEFAULT_MAX_BODY_BYTES + 1, 0x20);
    await assertRefused(await receiver.post(big), 413, ErrorReason.BODY_TOO_LARGE);
    const chunks = Array.from({ length: 17 }, () => new Uint8Array(64 * 1024));
    const streamed = new ReadableStream({
      pull(controller) {
        if (chunks.length) controller.enqueue(chunks.pop());
        else controller.close();
      },
    });
    const response = await fetch(receiver.url + DEFAULT_PATH, {
      method: 'POST',
      body: streamed,
      duplex: 'half',
      headers: { [SIGNATURE_HEADER]: sign('x', SECRET) },
    });
    await assertRefused(response, 413, ErrorReason.BODY_TOO_LARGE);
  });

  test('any other method is 405 with Allow: POST', async () => {
    for (const method of ['GET', 'PUT', 'DELETE', 'PATCH']) {
      const response = await fetch(receiver.url + DEFAULT_PATH, { method });
      assert.equal(response.headers.get('allow'), 'POST');
      await assertRefused(response, 405, ErrorReason.METHOD_NOT_ALLOWED);
    }
  });

  test('GET /api/tokens/:id shows the status at the top level; unknown ids are 404', async () => {
    const token = await (await fetch(`${receiver.url}/api/tokens/abc`)).json();
    assert.equal(token.token_id, 'ABC');
    assert.equal(typeof token.status, 'string');
    await assertRefused(
      await fetch(`${receiver.url}/api/tokens/MISSING`),
      404,
      ErrorReason.UNKNOWN_TOKEN,
    );
    await assertRefused(
      await fetch(`${receiver.url}/api/tokens/a_b`),
      404,
      ErrorReason.UNKNOWN_TOKEN,
    );
  });

  test('GET /health answers; other paths are 404', async () => {
    assert.deepEqual(await (await fetch(`${receiver.url}/health`)).json(), {
      success: true,
      status: 'ok',
    });
    const elsewhere = await fetch(`${receiver.url}/api/elsewhere`);
    const body = await assertRefused(elsewhere, 404, ErrorReason.UNKNOWN_PATH);
    assert.match(
      body.error,
      /deliveries go to POST \/api\/webhooks\/model-registration or \/api\/mlflow\/registered/,
    );
  });
});

describe('duplicates are judged per token', () => {
  const receiver = receiverFor({ secrets: SECRET, tokens: ['ONE', 'TWO'] });
  const key = { [IDEMPOTENCY_KEY_HEADER]: '0f6b6c3e-6f8e-5a43-9a53-686f6b757361' };

  test('a key seen before for this token says so in the message', async () => {
    await assertAccepted(
      await receiver.post(freshEvent({ token_id: 'ONE' }), { headers: key }),
      false,
    );
    const again = await receiver.post(freshEvent({ token_id: 'ONE' }), { headers: key });
    assert.match((await assertAccepted(again, true)).message, /idempotency key was seen before/);
  });

  test('the same key for another token still registers that token', async () => {
    const other = await receiver.post(freshEvent({ token_id: 'TWO' }), { headers: key });
    assert.equal((await assertAccepted(other, false)).token_id, 'TWO');
  });
});

describe('bodies the schema cannot see as wrong', () => {
  const receiver = receiverFor({ secrets: SECRET, tokens: ['LSCOR'] });

  test('JSON that is not an object is a schema violation at the root', async () => {
    await assertBadField(await receiver.post('"LSCOR"'), ErrorReason.SCHEMA_VIOLATION, '$');
  });

  test('an unpaired surrogate escape in stored text is refused and names the field', async () => {
    const text = JSON.stringify(freshEvent()).replace('Sales lead', 'Sales \\ud800 lead');
    const response = await receiver.post(text);
    const body = await assertBadField(response, ErrorReason.SCHEMA_VIOLATION, '$.model_name');
    assert.match(body.error, /unpaired surrogate "\\ud800" at position 6/);
    assert.equal((await receiver.token('LSCOR')).status, 'DRAFT');
  });
});

describe('a receiver without a secret', () => {
  const receiver = receiverFor({ secrets: [''], tokens: ['LSCOR'] });

  test('refuses every delivery with 500 (fail closed), even a signed one', async () => {
    const response = await receiver.post(freshEvent());
    assert.equal(response.status, 500);
    assert.deepEqual(await response.json(), {
      success: false,
      error: 'Webhook secret not configured',
      reason: 'no_secret_configured',
    });
    assert.equal((await receiver.token('LSCOR')).status, 'DRAFT');
  });

  test('a body over the limit is still 413: size is judged before the secret', async () => {
    const big = Buffer.alloc(DEFAULT_MAX_BODY_BYTES + 1, 0x20);
    await assertRefused(await receiver.post(big), 413, ErrorReason.BODY_TOO_LARGE);
  });
});

describe('a receiver with a replay tolerance', () => {
  const receiver = receiverFor({
    secrets: SECRET,
    tokens: ['OLD', 'NAIVE', 'OFFSET', 'AHEAD'],
    toleranceSeconds: 300,
  });
  const shifted = (seconds) => new Date(Date.now() + seconds * 1000);

  test('a timestamp older than the tolerance is 401 and says the tolerance', async () => {
    const response = await receiver.post(
      freshEvent({ token_id: 'OLD', timestamp: '2025-08-21T14:42:23Z' }),
    );
    const body = await assertRefused(response, 401, ErrorReason.TIMESTAMP_OUTSIDE_TOLERANCE);
    assert.equal(body.tolerance_seconds, 300);
    assert.equal(body.field, '$.timestamp');
    assert.equal((await receiver.token('OLD')).status, 'DRAFT');
  });

  test('a replay is refused before the rest of the body is judged', async () => {
    const stale = freshEvent({ token_id: 'OLD', timestamp: '2025-08-21T14:42:23Z', status: 'x' });
    await assertRefused(await receiver.post(stale), 401, ErrorReason.TIMESTAMP_OUTSIDE_TOLERANCE);
    const unreadable = freshEvent({ token_id: 'OLD', timestamp: 'yesterday' });
    const response = await receiver.post(unreadable);
    await assertBadField(response, ErrorReason.SCHEMA_VIOLATION, '$.timestamp');
  });

  test('a timestamp without an offset is read as UTC', async () => {
    const naive = new Date().toISOString().replace('Z', '');
    await assertAccepted(
      await receiver.post(freshEvent({ token_id: 'NAIVE', timestamp: naive })),
      false,
    );
  });

  test('an offset is honoured: local time two hours ahead with +02:00 is now', async () => {
    const local = shifted(7200).toISOString().replace('Z', '+02:00');
    await assertAccepted(
      await receiver.post(freshEvent({ token_id: 'OFFSET', timestamp: local })),
      false,
    );
    const noOffset = shifted(7200).toISOString().replace('Z', '');
    await assertRefused(
      await receiver.post(freshEvent({ token_id: 'AHEAD', timestamp: noOffset })),
      401,
      ErrorReason.TIMESTAMP_OUTSIDE_TOLERANCE,
    );
  });
});

test('every delivery refusal reason is listed in the OpenAPI Error shape', () => {
  const { UNKNOWN_PATH, INTERNAL_ERROR, ...deliveryReasons } = ErrorReason;
  assert.deepEqual([UNKNOWN_PATH, INTERNAL_ERROR], ['unknown_path', 'internal_error']);
  for (const reason of Object.values(deliveryReasons)) {
    assert.ok(ERROR.text.includes(reason), reason);
  }
});

test('bad options are refused when the handler is made, not on the first delivery', async () => {
  await assert.rejects(startServer({ secrets: 's', toleranceSeconds: 0 }), /toleranceSeconds/);
  await assert.rejects(startServer({ secrets: 's', maxBodyBytes: 0 }), /maxBodyBytes/);
  await assert.rejects(startServer({ secrets: 's', tokens: ['a_b'] }), { name: 'TokenIdError' });
});
