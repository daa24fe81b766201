// The example server as a real process: the one-line ready signal, env config, clean stops.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { CURRENT_PATH, DEFAULT_PATH, SIGNATURE_HEADER, sign } from '../src/index.js';

const SERVER = fileURLToPath(new URL('../examples/server.mjs', import.meta.url));
const READY = /^listening on (http:\/\/127\.0\.0\.1:(\d+))$/;

/** Run the example server with only `env` (and PATH) in its environment. */
function spawnExample(env) {
  const child = spawn(process.execPath, [SERVER], {
    env: { PATH: process.env.PATH, PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  return { child, exited: once(child, 'close'), stderr: () => stderr };
}

/** Start the example server; resolves once it printed its ready line. */
async function startExample(env) {
  const server = spawnExample(env);
  const lines = createInterface({ input: server.child.stdout });
  const [first] = await Promise.race([once(lines, 'line'), server.exited.then(() => [null])]);
  const match = READY.exec(first ?? '');
  assert.ok(match, `no ready line; stdout: ${first}; stderr: ${server.stderr()}`);
  return { ...server, url: match[1], port: Number(match[2]) };
}

async function stop(server, signal) {
  server.child.kill(signal);
  const [code, killedBy] = await server.exited;
  return { code, killedBy };
}

test('with PORT=0 it prints the real port, registers a token and stops on SIGTERM', async () => {
  const secret = 'example-secret-value';
  const server = await startExample({ WEBHOOK_SECRET: secret, TOKENS: 'lscor,ABC' });
  assert.ok(server.port > 0);
  const body = JSON.stringify({
    event_type: 'model_registered',
    timestamp: new Date().toISOString(),
    token_id: 'ABC',
    model_name: 'Sales lead scoring model',
    model_version: '1',
    mlflow_run_id: null,
    metric_name: 'accuracy',
    baseline_value: 0.5,
    status: 'REGISTERED',
  });
  const response = await fetch(server.url + DEFAULT_PATH, {
    method: 'POST',
    body,
    headers: { [SIGNATURE_HEADER]: sign(body, secret) },
  });
  assert.equal(response.status, 200, await response.clone().text());
  const token = await (await fetch(`${server.url}/api/tokens/LSCOR`)).json();
  assert.equal(token.status, 'DRAFT');
  assert.deepEqual(await stop(server, 'SIGTERM'), { code: 0, killedBy: null });
  assert.ok(!server.stderr().includes(secret), 'the secret was printed');
});

test('it takes the SDK\'s v2 body at the current path and shows the API schema', async () => {
  const secret = 'example-secret-value';
  const server = await startExample({ WEBHOOK_SECRET: secret, TOKENS: 'lscor' });
  const apiSchema = { inputSchema: { type: 'object' }, outputSchema: { type: 'object' } };
  const body = JSON.stringify({
    event_type: 'model_registered',
    model: { id: 'lscor', name: 'm', status: 'registered', version: '3', api_schema: apiSchema },
    timestamp: '2026-04-30T12:00:01Z',
    source: 'mlflow',
  });
  const response = await fetch(server.url + CURRENT_PATH, {
    method: 'POST',
    body,
    headers: { [SIGNATURE_HEADER]: sign(body, secret) },
  });
  assert.equal(response.status, 200, await response.clone().text());
  const token = await (await fetch(`${server.url}/api/tokens/lscor`)).json();
  assert.deepEqual(
    [token.status, token.model_version, token.api_schema],
    ['REGISTERED', '3', apiSchema],
  );
  assert.deepEqual(await stop(server, 'SIGTERM'), { code: 0, killedBy: null });
});

test('without WEBHOOK_SECRET it warns, refuses with 500 and stops on SIGINT', async () => {
  const server = await startExample({});
  const response = await fetch(server.url + DEFAULT_PATH, { method: 'POST', body: '{}' });
  assert.equal(response.status, 500);
  assert.equal((await response.json()).error, 'Webhook secret not configured');
  assert.deepEqual(await stop(server, 'SIGINT'), { code: 0, killedBy: null });
  assert.match(server.stderr(), /WEBHOOK_SECRET is not set/);
});

test('a bad setting stops it at once with exit code 2 and says which', async () => {
  const settings = [
    [{ TOKENS: 'LSCOR,bad_id' }, /TOKENS: token id "bad_id" has "_" at position 3/],
    [{ TOLERANCE_SECONDS: '0' }, /TOLERANCE_SECONDS="0" is not a whole number >= 1/],
    [{ WEBHOOK_SECRET: ' \n' }, /WEBHOOK_SECRET is only whitespace/],
    [{ PORT: 'eighty' }, /PORT="eighty" is not a whole number >= 0/],
  ];
  const runs = settings.map(([env]) => spawnExample(env));
  const exits = await Promise.all(runs.map((run) => run.exited));
  settings.forEach(([, message], index) => {
    assert.equal(exits[index][0], 2, runs[index].stderr());
    assert.match(runs[index].stderr(), message);
  });
});
