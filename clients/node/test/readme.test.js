// The Next.js example in the README runs as written, against this package.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import { sign } from '../src/index.js';

function nextRouteModule() {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('## Next.js'));
  const code = /```js\n([\s\S]*?)```/.exec(section)[1];
  const source = code.replace(
    "'@hokusai/contracts'",
    `'${new URL('../src/index.js', import.meta.url)}'`,
  );
  return import(`data:text/javascript,${encodeURIComponent(source)}`);
}

test('the Next.js route in the README verifies the raw bytes and answers like the contract', async () => {
  const { POST } = await nextRouteModule();
  const body = JSON.stringify(
    {
      event_type: 'model_registered',
      timestamp: '2025-08-21T14:42:23.646003',
      token_id: 'lscor',
      model_name: 'Sales lead scoring model',
      model_version: '4',
      mlflow_run_id: null,
      metric_name: 'accuracy',
      baseline_value: 1.0,
      status: 'registered',
    },
    null,
    2,
  );
  const post = (headers) =>
    POST(new Request('http://site.test/api/mlflow/registered', { method: 'POST', body, headers }));
  const saved = process.env.WEBHOOK_SECRET;
  try {
    delete process.env.WEBHOOK_SECRET;
    assert.equal((await post({})).status, 500);
    process.env.WEBHOOK_SECRET = 'readme-secret';
    const refused = await post({
      'X-Hokusai-Signature': sign(JSON.stringify(JSON.parse(body)), 'readme-secret'),
    });
    assert.equal(refused.status, 401);
    assert.equal((await refused.json()).reason, 'mismatch');
    const accepted = await post({ 'X-Hokusai-Signature': sign(body, 'readme-secret') });
    assert.equal(accepted.status, 200);
    assert.equal((await accepted.json()).token_id, 'LSCOR');
  } finally {
    if (saved === undefined) delete process.env.WEBHOOK_SECRET;
    else process.env.WEBHOOK_SECRET = saved;
  }
});
