#!/usr/bin/env node
// The reference receiver as a standalone server, for trying a sender against it or for judging
// it with `hokusai-contract check-receiver`. Deliveries go to POST /api/webhooks/model-registration
// (the current default path) or /api/mlflow/registered (the seed path), in either body shape;
// GET /api/tokens/<id> shows a token's status, latest model version and API schema.
//
//   WEBHOOK_SECRET=... TOKENS=LSCOR,ABC PORT=8001 node clients/node/examples/server.mjs
//
// Environment: PORT (default 8001; 0 picks a free port), HOST (default 127.0.0.1),
// WEBHOOK_SECRET (unset: every delivery is refused with 500, fail closed), TOKENS (comma-separated
// ids seeded as DRAFT, default LSCOR), TOLERANCE_SECONDS (replay window; unset: not enforced),
// MAX_BODY_BYTES (default 1 MiB). Prints `listening on http://<host>:<port>` on stdout once ready;
// logs one line per request on stderr; stops cleanly on SIGINT or SIGTERM.

import process from 'node:process';

import { DEFAULT_MAX_BODY_BYTES, startServer } from '../src/handler.js';
import { tokenIdProblem } from '../src/index.js';

class ConfigurationError extends Error {}

function whole(name, fallback, { min }) {
  const text = process.env[name];
  if (text === undefined || text.trim() === '') return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < min) {
    throw new ConfigurationError(`${name}=${JSON.stringify(text)} is not a whole number >= ${min}`);
  }
  return value;
}

function webhookSecret() {
  const secret = process.env.WEBHOOK_SECRET ?? '';
  if (secret === '') {
    console.error(
      'warning: WEBHOOK_SECRET is not set; every delivery will be refused with 500 ' +
        '(fail closed) until it is',
    );
  } else if (secret.trim() === '') {
    throw new ConfigurationError(
      'WEBHOOK_SECRET is only whitespace; set it to the webhook secret shared with the sender',
    );
  } else if (secret !== secret.trim()) {
    console.error(
      'warning: WEBHOOK_SECRET has whitespace or a newline around it; it is used exactly as ' +
        'set, so the sender must have the same bytes (usually: strip it)',
    );
  }
  return secret;
}

function configuration() {
  const tokens = (process.env.TOKENS ?? 'LSCOR')
    .split(',')
    .map((id) => id.trim())
    .filter(Boolean);
  for (const problem of tokens.map(tokenIdProblem).filter(Boolean)) {
    throw new ConfigurationError(`TOKENS: ${problem.message}`);
  }
  return {
    port: whole('PORT', 8001, { min: 0 }),
    host: process.env.HOST || '127.0.0.1',
    secrets: webhookSecret(),
    tokens,
    toleranceSeconds: whole('TOLERANCE_SECONDS', null, { min: 1 }),
    maxBodyBytes: whole('MAX_BODY_BYTES', DEFAULT_MAX_BODY_BYTES, { min: 1 }),
    log: (line) => console.error(line),
  };
}

function explainStartFailure(error) {
  if (error instanceof ConfigurationError) return error.message;
  if (error.code === 'EADDRINUSE') {
    return `${error.address}:${error.port} is already in use; set PORT to a free port (0 picks one)`;
  }
  if (error.code === 'EACCES') {
    return `no permission to listen on ${error.address}:${error.port}; use a port above 1023`;
  }
  return error.stack ?? String(error);
}

async function main() {
  let running;
  try {
    running = await startServer(configuration());
  } catch (error) {
    console.error(`error: ${explainStartFailure(error)}`);
    process.exitCode = 2;
    return;
  }
  const stop = async (signal) => {
    console.error(`${signal}: stopping`);
    await running.close();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  console.log(`listening on ${running.url}`);
}

await main();
