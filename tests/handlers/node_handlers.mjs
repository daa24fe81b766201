// Node.js webhook handlers in the idioms of Express and Next.js, each with the mistake (or none)
// its comment names, served with node:http alone: the Express pieces used here (express.json(),
// express.raw(), res.status().send(), the default error handler) are mimicked as they behave.
//
//   node node_handlers.mjs KIND TOKEN[,TOKEN...]     (the secret in $HANDLER_SECRET)
//
// prints {"port": N} once it listens on 127.0.0.1, and serves the website: a token table in
// memory, GET /api/tokens/<id> with the token's state (status, latest model version, API
// schema), and the handler under test at both webhook paths, POST
// /api/webhooks/model-registration and /api/mlflow/registered. Unless its mistake is about
// shapes, each takes both body shapes, as the website does. It stops on SIGTERM.

import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';

import { WEBHOOK_PATHS, tokenIdOf, validatePayload } from '../../clients/node/src/index.js';

const STATE_PREFIX = '/api/tokens/';
const ONE_MIB = 1024 * 1024;
const EXPRESS_JSON_LIMIT = 100 * 1024; // express.json()'s default limit

const [kind, tokenList = ''] = process.argv.slice(2);
const SECRET = process.env.HANDLER_SECRET ?? '';
const tokens = new Map(
  tokenList
    .split(',')
    .filter(Boolean)
    .map((id) => [id, { status: 'DRAFT', model_version: null, api_schema: null }]),
);

// --- Express, as it behaves -------------------------------------------------------------------

/** res.status(n).json(x) and res.status(n).send('text'), as Express writes them. */
function express(res) {
  return {
    status(code) {
      res.statusCode = code;
      return this;
    },
    json(value) {
      res.setHeader('Content-Type', 'application/json; charset=utf-8');
      res.end(JSON.stringify(value));
    },
    send(text) {
      res.setHeader('Content-Type', 'text/html; charset=utf-8');
      res.end(text);
    },
  };
}

/** Express's default error handler: an HTML page with the error's status (500 by default). */
function defaultErrorHandler(error, res) {
  res.statusCode = error.status ?? 500;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.end(`<!DOCTYPE html>\n<html><body><pre>${error.name}: ${error.message}</pre></body></html>`);
}

function httpError(status, message) {
  return Object.assign(new Error(message), { status });
}

/** The raw body, refused with 413 before reading when Content-Length is over ``limit``. */
function readRaw(req, limit) {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) return Promise.reject(httpError(413, 'request entity too large'));
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** express.raw({type: 'application/json', limit: '1mb'}): req.body is the Buffer. */
async function expressRaw(req) {
  req.body = await readRaw(req, ONE_MIB);
}

/** express.json(): req.body is the parsed object; a body that is not JSON is a 400 error. */
async function expressJson(req) {
  const raw = await readRaw(req, EXPRESS_JSON_LIMIT);
  try {
    req.body = JSON.parse(raw.toString('utf8'));
  } catch (error) {
    throw httpError(400, error.message);
  }
}

// --- the website's own code -------------------------------------------------------------------

function hmacHex(body) {
  return createHmac('sha256', SECRET).update(body).digest('hex');
}

/** A signature header compared with the right digest bytes, lengths first. */
function signatureMatches(header, raw) {
  const match = /^sha256=([0-9a-fA-F]{64})$/.exec(header ?? '');
  if (!match) return false;
  return timingSafeEqual(Buffer.from(match[1], 'hex'), Buffer.from(hmacHex(raw), 'hex'));
}

/** DRAFT to REGISTERED (a new registration); a later nested version of a REGISTERED token
 * moves its latest version on, replacing, keeping or clearing its API schema. Whether it was
 * already REGISTERED (a duplicate). */
function store(token, payload) {
  const flat = 'token_id' in payload; // the website's order: flat first, then nested
  const version = flat ? payload.model_version : payload.model.version;
  const duplicate = token.status === 'REGISTERED';
  if (!duplicate) {
    Object.assign(token, {
      status: 'REGISTERED',
      model_version: version ?? null,
      registered_at: new Date().toISOString(),
    });
  } else if (!flat && Number(version) > Number(token.model_version ?? 0)) {
    token.model_version = version;
  } else {
    return duplicate;
  }
  if (!flat && 'api_schema' in payload.model) token.api_schema = payload.model.api_schema;
  return duplicate;
}

/** Validate, look the token up (upper-cased, unless told to take the nested id as sent), move
 * it to REGISTERED once, answer. */
function register(res, payload, { plainText = false, modelIdAsSent = false } = {}) {
  const out = express(res);
  const refuse = (status, error) =>
    plainText ? out.status(status).send(error) : out.status(status).json({ success: false, error });
  try {
    validatePayload(payload);
  } catch (error) {
    return refuse(400, error.message);
  }
  const id = modelIdAsSent && !('token_id' in payload) ? payload.model.id : tokenIdOf(payload);
  const token = tokens.get(id);
  if (!token) return refuse(404, 'Token not found');
  const duplicate = store(token, payload);
  return out.status(200).json({ success: true, token_id: id, duplicate });
}

/** Verify the raw bytes, then parse, then register: the right order. */
function verifiedRegistration(req, res, raw, { plainText = false, modelIdAsSent = false } = {}) {
  const out = express(res);
  const refuse = (status, error) =>
    plainText ? out.status(status).send(error) : out.status(status).json({ success: false, error });
  if (!signatureMatches(req.headers['x-hokusai-signature'], raw)) {
    return refuse(401, 'Invalid signature');
  }
  let payload;
  try {
    payload = JSON.parse(raw.toString('utf8'));
  } catch {
    return refuse(400, 'Invalid JSON');
  }
  return register(res, payload, { plainText, modelIdAsSent });
}

// --- the handlers -----------------------------------------------------------------------------

const HANDLERS = {
  // Wrong: express.json() parses first (a 400 HTML page for bad JSON, before any signature),
  // then HMAC over JSON.stringify(req.body): 1.0 becomes 1, \u00e8 becomes è, spacing is lost.
  async 'express-json-stringify'(req, res) {
    await expressJson(req);
    const header = req.headers['x-hokusai-signature'] ?? '';
    const expected = `sha256=${hmacHex(JSON.stringify(req.body))}`;
    const same =
      header.length === expected.length &&
      timingSafeEqual(Buffer.from(header), Buffer.from(expected));
    if (!same) return express(res).status(401).json({ success: false, error: 'Invalid signature' });
    return register(res, req.body);
  },

  // Wrong: express.raw, then crypto.timingSafeEqual on the header as sent, without comparing
  // lengths first: it throws on any other length, and the default error handler answers 500.
  async 'express-raw-timing-safe-equal'(req, res) {
    await expressRaw(req);
    const header = req.headers['x-hokusai-signature'];
    const expected = `sha256=${hmacHex(req.body)}`;
    if (!timingSafeEqual(Buffer.from(header), Buffer.from(expected))) {
      return express(res).status(401).json({ success: false, error: 'Invalid signature' });
    }
    return register(res, JSON.parse(req.body.toString('utf8')));
  },

  // Right: express.raw (its 413 answered as JSON), the digest compared as bytes after checking
  // its form, then parsed.
  async 'express-raw-correct'(req, res) {
    try {
      await expressRaw(req);
    } catch {
      return express(res).status(413).json({ success: false, error: 'Body too large' });
    }
    return verifiedRegistration(req, res, req.body);
  },

  // Right, except that errors are plain text: res.status(401).send('Invalid signature').
  async 'express-plain-text-errors'(req, res) {
    try {
      await expressRaw(req);
    } catch {
      return express(res).status(413).send('Payload too large');
    }
    return verifiedRegistration(req, res, req.body, { plainText: true });
  },

  // Right, but after answering 413 it closes that connection when the next request comes in
  // on it, without having said "Connection: close".
  async 'express-closes-after-413'(req, res) {
    try {
      await expressRaw(req);
    } catch {
      req.socket.closeOnNextRequest = true;
      return express(res).status(413).json({ success: false, error: 'Too large' });
    }
    return verifiedRegistration(req, res, req.body);
  },

  // Wrong: a Next.js route handler that reads `await request.json()` first (an uncaught error
  // on bad JSON: 500) and verifies JSON.stringify of it.
  async 'nextjs-json-first'(req, res) {
    const raw = await readRaw(req, ONE_MIB);
    const body = JSON.parse(raw.toString('utf8')); // request.json()
    const header = req.headers['x-hokusai-signature'] ?? '';
    const expected = `sha256=${hmacHex(JSON.stringify(body))}`;
    const same =
      header.length === expected.length &&
      timingSafeEqual(Buffer.from(header), Buffer.from(expected));
    if (!same) return express(res).status(401).json({ success: false, error: 'Invalid signature' });
    return register(res, body);
  },

  // Right: a Next.js route handler reading `await request.text()`, verifying, then parsing.
  async 'nextjs-text-correct'(req, res) {
    let raw;
    try {
      raw = await readRaw(req, ONE_MIB); // request.text(), behind a size check
    } catch {
      return express(res).status(413).json({ success: false, error: 'Body too large' });
    }
    return verifiedRegistration(req, res, raw);
  },

  // Wrong: written for the flat contract alone: every body must carry token_id (400 'token_id
  // is required' otherwise), so the nested body the SDK sends since 2026-04-30 is refused.
  async 'express-raw-v1-only'(req, res) {
    try {
      await expressRaw(req);
    } catch {
      return express(res).status(413).json({ success: false, error: 'Body too large' });
    }
    if (!signatureMatches(req.headers['x-hokusai-signature'], req.body)) {
      return express(res).status(401).json({ success: false, error: 'Invalid signature' });
    }
    let payload;
    try {
      payload = JSON.parse(req.body.toString('utf8'));
    } catch {
      return express(res).status(400).json({ success: false, error: 'Invalid JSON' });
    }
    if (typeof payload?.token_id !== 'string') {
      return express(res).status(400).json({ success: false, error: 'token_id is required' });
    }
    return register(res, payload);
  },

  // Wrong: a Next.js route that takes both shapes, upper-cases token_id, but looks the nested
  // model.id up as sent: tokens.get(body.model.id) finds nothing for the SDK's 'lscor'.
  async 'nextjs-model-id-case-sensitive'(req, res) {
    let raw;
    try {
      raw = await readRaw(req, ONE_MIB);
    } catch {
      return express(res).status(413).json({ success: false, error: 'Body too large' });
    }
    return verifiedRegistration(req, res, raw, { modelIdAsSent: true });
  },

  // Right, except that a GET to the webhook is dropped without an answer (the connection is
  // closed), as some proxies in front of handlers do.
  async 'express-drops-get'(req, res) {
    return HANDLERS['express-raw-correct'](req, res);
  },
};
const PLAIN_TEXT = new Set(['express-plain-text-errors']);

const handler = HANDLERS[kind];
if (handler === undefined) {
  process.stderr.write(`unknown handler ${kind}; one of ${Object.keys(HANDLERS).join(', ')}\n`);
  process.exit(2);
}

function state(res, id) {
  const token = tokens.get(id.toUpperCase());
  if (!token) return express(res).status(404).json({ success: false, error: 'no such token' });
  return express(res).status(200).json({ success: true, token_id: id.toUpperCase(), ...token });
}

const server = createServer(async (req, res) => {
  if (req.socket.closeOnNextRequest) {
    req.socket.destroy();
    return;
  }
  const path = new URL(req.url, 'http://localhost').pathname;
  if (req.method === 'GET' && path.startsWith(STATE_PREFIX)) {
    return state(res, decodeURIComponent(path.slice(STATE_PREFIX.length)));
  }
  const out = express(res);
  if (!WEBHOOK_PATHS.includes(path)) {
    // Express's own answer to a route it does not have.
    return out.status(404).send(`<!DOCTYPE html>\n<pre>Cannot ${req.method} ${path}</pre>\n`);
  }
  if (req.method !== 'POST') {
    if (kind === 'express-drops-get' && req.method === 'GET') return req.socket.destroy();
    if (PLAIN_TEXT.has(kind)) return out.status(405).send('Method Not Allowed');
    return out.status(405).json({ success: false, error: 'only POST is allowed' });
  }
  try {
    await handler(req, res);
  } catch (error) {
    defaultErrorHandler(error, res);
  }
});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
