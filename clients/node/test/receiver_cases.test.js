// The shared receiver cases (schemas/vectors/receiver_cases.v1.json) against the reference
// receiver over real HTTP: the same requests and expected answers the Python stub site is held to.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { RECEIVER_CASES_FILE, readContractJson } from '../src/contract-files.js';
import { startServer } from '../src/handler.js';

const { cases } = readContractJson(RECEIVER_CASES_FILE);

/** The receiver as the case configures it; a null in the file means the default. */
function optionsOf({ receiver }) {
  return {
    secrets: receiver.secrets,
    tokens: receiver.tokens,
    toleranceSeconds: receiver.timestamp_tolerance_seconds,
    maxBodyBytes: receiver.max_body_bytes ?? undefined,
  };
}

function send(url, { method, path, headers, body }) {
  const withBody = method !== 'GET' && method !== 'HEAD';
  return fetch(url + path, { method, headers, body: withBody ? body : undefined });
}

for (const testCase of cases) {
  test(`${testCase.name}: ${testCase.description}`, async () => {
    const receiver = await startServer(optionsOf(testCase));
    try {
      for (const earlier of testCase.before ?? []) {
        const response = await send(receiver.url, earlier);
        assert.equal(response.status, 200, await response.text());
      }
      const { expected } = testCase;
      const response = await send(receiver.url, testCase.request);
      const answer = await response.json();
      assert.equal(response.status, expected.status, JSON.stringify(answer));
      assert.equal(answer.success, expected.status === 200);
      assert.equal(answer.reason, expected.reason ?? undefined);
      if ('field' in expected) assert.equal(answer.field, expected.field);
      for (const [name, value] of Object.entries(expected.answer ?? {})) {
        assert.deepEqual(answer[name], value, name);
      }
      for (const [name, value] of Object.entries(expected.headers ?? {})) {
        assert.equal(response.headers.get(name), value, name);
      }
      const state = await (await fetch(`${receiver.url}/api/tokens/LSCOR`)).json();
      for (const [name, value] of Object.entries(expected.state ?? {})) {
        assert.deepEqual(state[name], value, name);
      }
      if (testCase.before === undefined) {
        assert.equal(state.status, expected.status === 200 ? 'REGISTERED' : 'DRAFT');
      }
    } finally {
      await receiver.close();
    }
  });
}
