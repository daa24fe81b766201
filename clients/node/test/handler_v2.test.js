// The reference receiver and contract v2 over real HTTP: both paths, both shapes, and what a
// token keeps (its status, its latest model version, its API schema).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, test } from 'node:test';

import { ErrorReason, startServer } from '../src/handler.js';
import {
  CURRENT_PATH,
  DEFAULT_PATH,
  IDEMPOTENCY_KEY_HEADER,
  SEED_PATH,
  SIGNATURE_HEADER,
  WEBHOOK_PATHS,
  sign,
} from '../src/index.js';

const SECRET = 'whsec-reference-receiver-v2';
const contractFile = (name) => new URL(`../../../schemas/${name}`, import.meta.url);
const readJson = (name) => JSON.parse(readFileSync(contractFile(name), 'utf8'));
const V1_EVENT = readJson('examples/model_registered.json');
const API_SCHEMA = {
  inputSchema: { type: 'object', properties: { industry: { type: 'string' } } },
  outputSchema: { type: 'object', properties: { lead_score: { type: 'number' } } },
};
const OTHER_API_SCHEMA = { inputSchema: { type: 'object' }, outputSchema: {} };

/** A v2 event for LSCOR as the SDK's CLI writes it; `api_schema` only when given. */
function modelEvent(version = '4', extra = {}) {
  return {
    event_type: 'model_registered',
    model: { id: 'lscor', name: 'Sales lead scoring model', status: 'registered', version, ...extra },
    timestamp: '2026-04-30T12:00:01Z',
    source: 'mlflow',
  };
}

let receiver;

beforeEach(async () => {
  receiver = await startServer({ secrets: SECRET, tokens: ['LSCOR'] });
});

afterEach(async () => {
  await receiver.close();
});

async function post(event, { path = CURRENT_PATH, key } = {}) {
  const body = JSON.stringify(event);
  const headers = { 'Content-Type': 'application/json', [SIGNATURE_HEADER]: sign(body, SECRET) };
  if (key !== undefined) headers[IDEMPOTENCY_KEY_HEADER] = key;
  const response = await fetch(receiver.url + path, { method: 'POST', headers, body });
  return { status: response.status, body: await response.json() };
}

async function state(token = 'LSCOR') {
  return (await fetch(`${receiver.url}/api/tokens/${token}`)).json();
}

test('the paths are the current default and the seed path; senders here use the seed path', () => {
  assert.deepEqual(WEBHOOK_PATHS, ['/api/webhooks/model-registration', '/api/mlflow/registered']);
  assert.deepEqual([CURRENT_PATH, SEED_PATH], WEBHOOK_PATHS);
  assert.equal(DEFAULT_PATH, SEED_PATH);
});

describe('each path registers the token from either shape', () => {
  for (const path of WEBHOOK_PATHS) {
    for (const [shape, event] of [
      ['v1', V1_EVENT],
      ['v2', modelEvent()],
    ]) {
      test(`${shape} at ${path}`, async () => {
        const answer = await post(event, { path });
        assert.equal(answer.status, 200, JSON.stringify(answer.body));
        assert.equal(answer.body.token_id, 'LSCOR');
        assert.equal(answer.body.duplicate, false);
        assert.equal((await state()).status, 'REGISTERED');
      });
    }
  }
});

test('the state shows status, latest version and API schema beside the earlier fields', async () => {
  assert.equal((await state()).api_schema, null);
  await post(modelEvent('4', { run_id: 'abc123', api_schema: API_SCHEMA }));
  const shown = await state();
  assert.deepEqual(
    [shown.status, shown.model_version, shown.api_schema],
    ['REGISTERED', '4', API_SCHEMA],
  );
  assert.equal(shown.model_name, 'Sales lead scoring model');
  assert.equal(shown.mlflow_run_id, 'abc123');
  for (const field of ['token_id', 'metric_name', 'baseline_value', 'registered_at']) {
    assert.ok(field in shown, field);
  }
});

test('a model.id naming no token gets 404 with the upper-cased id', async () => {
  const unknown = modelEvent();
  unknown.model.id = 'nosuchtoken';
  const answer = await post(unknown);
  assert.equal(answer.status, 404);
  assert.equal(answer.body.reason, ErrorReason.UNKNOWN_TOKEN);
  assert.match(answer.body.error, /NOSUCHTOKEN/);
});

test('a later v2 version is no second transition but becomes the latest', async () => {
  await post(modelEvent('4', { api_schema: API_SCHEMA }));
  const registeredAt = (await state()).registered_at;
  const answer = await post(modelEvent('5', { api_schema: OTHER_API_SCHEMA }));
  assert.equal(answer.body.duplicate, true);
  assert.equal(answer.body.model_version, '5');
  assert.match(answer.body.message, /now 5 \(was 4\)/);
  const shown = await state();
  assert.deepEqual([shown.model_version, shown.api_schema], ['5', OTHER_API_SCHEMA]);
  assert.equal(shown.registered_at, registeredAt);
});

test('api_schema absent keeps the stored one, null clears it', async () => {
  await post(modelEvent('4', { api_schema: API_SCHEMA }));
  await post(modelEvent('5'));
  assert.deepEqual((await state()).api_schema, API_SCHEMA);
  await post(modelEvent('6', { api_schema: null }));
  assert.deepEqual([(await state()).model_version, (await state()).api_schema], ['6', null]);
});

test('the same or an earlier version, or a key seen before, changes nothing', async () => {
  await post(modelEvent('5', { api_schema: API_SCHEMA }), { key: 'key-5' });
  for (const [event, key] of [
    [modelEvent('5', { api_schema: null }), undefined],
    [modelEvent('4', { api_schema: null }), undefined],
    [modelEvent('6', { api_schema: null }), 'key-5'],
  ]) {
    const answer = await post(event, { key });
    assert.equal(answer.body.duplicate, true);
    assert.deepEqual([(await state()).model_version, (await state()).api_schema], ['5', API_SCHEMA]);
  }
});

test('a v1 delivery for a REGISTERED token changes nothing, whatever its version', async () => {
  await post({ ...V1_EVENT, model_version: '4' });
  const answer = await post({ ...V1_EVENT, model_version: '9' });
  assert.equal(answer.body.duplicate, true);
  assert.equal((await state()).model_version, '4');
});

test('the store hands out copies: changing one changes nothing stored', async () => {
  await post(modelEvent('4', { api_schema: API_SCHEMA }));
  const copy = receiver.handler.store.get('LSCOR');
  copy.api_schema.inputSchema.type = 'array';
  assert.deepEqual(receiver.handler.store.get('lscor').api_schema, API_SCHEMA);
});

test('a key first accepted with an update is a repeat when it comes again', async () => {
  await post(modelEvent('4'));
  await post(modelEvent('5'), { key: 'key-update' });
  const answer = await post(modelEvent('6'), { key: 'key-update' });
  assert.match(answer.body.message, /idempotency key was seen before/);
  assert.equal((await state()).model_version, '5');
});
