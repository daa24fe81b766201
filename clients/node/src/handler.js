// A reference receiver for the model_registered webhook in plain node:http.
//
// Each delivery is judged in the contract's order, the same as the Python stub site: method
// (405), size (413, reading stops at the limit), then receive(): secret and signature over the
// RAW bytes (500 when no secret is configured, else 401), JSON (400), timestamp tolerance when
// one is set (401), schema (400); then the token (404), which moves from DRAFT to REGISTERED at
// most once (duplicates answer 200 with `duplicate: true`). Nothing is parsed before the
// signature has been verified, and nothing changes on any refusal. Each reason's status comes
// from the contract's receiver cases (schemas/vectors/receiver_cases.v1.json).
//
// The webhook is served at both of the contract's paths (/api/webhooks/model-registration, the
// current default, and /api/mlflow/registered, the seed path), each taking both body shapes. A
// token keeps what the website keeps: its status, its latest model version and its API schema
// (a v2 body's model.api_schema: absent keeps it, null clears it, an object replaces it). On a
// token already REGISTERED, only a later model.version of a v2 body changes anything: it becomes
// the latest version (with its API schema), and the answer is still a duplicate.

import { createServer } from 'node:http';

import { RECEIVER_CASES_FILE, readContractJson } from './contract-files.js';
import {
  IDEMPOTENCY_KEY_HEADER,
  PayloadError,
  PayloadProblem,
  ReceiveError,
  STATUS_REGISTERED,
  Shape,
  TimestampError,
  WEBHOOK_PATHS,
  normalizeTokenId,
  payloadShape,
  receive,
  secretKeys,
  tokenIdOf,
  tokenIdProblem,
} from './index.js';
import { checkedTolerance } from './receive.js';

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
export const TOKENS_PATH_PREFIX = '/api/tokens/';
export const HEALTH_PATH = '/health';
export const SECRET_NOT_CONFIGURED = 'Webhook secret not configured';
const IDEMPOTENCY_KEY_KEPT = 200;

const REASONS = readContractJson(RECEIVER_CASES_FILE).reasons;

/**
 * Every `reason` an answer can carry, as the contract's receiver cases list them (the same
 * codes as the Python stub site); each is answered with the status given there.
 */
export const ErrorReason = Object.freeze(
  Object.fromEntries(Object.keys(REASONS).map((reason) => [reason.toUpperCase(), reason])),
);

export const TokenStatus = Object.freeze({ DRAFT: 'DRAFT', REGISTERED: STATUS_REGISTERED });

const REGISTRATION_FIELDS = [
  'model_name',
  'model_version',
  'mlflow_run_id',
  'metric_name',
  'baseline_value',
];

/**
 * What an accepted event writes onto its token, from either shape of body: `fields` (those of
 * REGISTRATION_FIELDS), `apiSchema` (`undefined`: keep the stored one) and whether a later
 * version still updates a REGISTERED token (v2 bodies only).
 */
export function registrationOf(event) {
  if (payloadShape(event) === Shape.V1) {
    const fields = Object.fromEntries(REGISTRATION_FIELDS.map((name) => [name, event[name]]));
    return { fields, apiSchema: undefined, laterVersionUpdates: false };
  }
  const { model } = event;
  const fields = {
    model_name: model.name,
    model_version: model.version ?? null,
    mlflow_run_id: model.run_id ?? null,
    metric_name: model.primary_metric ?? null,
    baseline_value: null,
  };
  return { fields, apiSchema: model.api_schema, laterVersionUpdates: true };
}

/** Whether `version` (digits, or null) is later than the stored `stored` (digits, or null). */
function isLater(version, stored) {
  if (version === null) return false;
  return stored === null || BigInt(version) > BigInt(stored);
}

/**
 * Tokens in memory: DRAFT until a verified delivery moves them, once, to REGISTERED; each keeps
 * its latest model version and API schema.
 */
export class MemoryTokenStore {
  #tokens = new Map();
  #acceptedKeys = new Map(); // token id -> idempotency keys of its accepted deliveries

  constructor(tokenIds = []) {
    for (const tokenId of tokenIds) this.add(tokenId);
  }

  /** Add a DRAFT token (the id in any case) unless it exists; returns the upper-cased id. */
  add(tokenId) {
    const id = normalizeTokenId(tokenId);
    if (!this.#tokens.has(id)) {
      const empty = Object.fromEntries(REGISTRATION_FIELDS.map((name) => [name, null]));
      this.#tokens.set(id, {
        token_id: id,
        status: TokenStatus.DRAFT,
        ...empty,
        registered_at: null,
        idempotency_key: null,
        api_schema: null,
      });
      this.#acceptedKeys.set(id, new Set());
    }
    return id;
  }

  /** A copy of the token with this id (any case), or null. */
  get(tokenId) {
    const token = this.#tokens.get(String(tokenId).toUpperCase());
    return token === undefined ? null : structuredClone(token);
  }

  /**
   * Move a DRAFT token to REGISTERED with the event's fields (either shape), exactly once.
   * Returns null for an unknown token, else `{ token, duplicate, keySeenBefore, updated,
   * replacedVersion }`: a token already REGISTERED, or a key already accepted for this token,
   * is a duplicate; of those, only a later version sent in a v2 body under a new key still
   * replaces the latest version and API schema (`updated`).
   */
  register(tokenId, event, idempotencyKey = null) {
    const token = this.#tokens.get(tokenId);
    if (token === undefined) return null;
    const keys = this.#acceptedKeys.get(tokenId);
    const keySeenBefore = idempotencyKey !== null && keys.has(idempotencyKey);
    const duplicate = keySeenBefore || token.status === TokenStatus.REGISTERED;
    const { fields, apiSchema, laterVersionUpdates } = registrationOf(event);
    const replacedVersion = token.model_version;
    const updated =
      duplicate &&
      !keySeenBefore &&
      laterVersionUpdates &&
      isLater(fields.model_version, token.model_version);
    if (!duplicate) {
      Object.assign(token, fields, {
        status: TokenStatus.REGISTERED,
        registered_at: new Date().toISOString(),
        idempotency_key: idempotencyKey,
      });
    } else if (updated) {
      const { model_name, model_version, mlflow_run_id } = fields;
      Object.assign(token, { model_name, model_version, mlflow_run_id });
    }
    if ((!duplicate || updated) && apiSchema !== undefined) {
      token.api_schema = structuredClone(apiSchema);
    }
    if (idempotencyKey !== null) keys.add(idempotencyKey);
    return {
      token: structuredClone(token),
      duplicate,
      keySeenBefore,
      updated,
      replacedVersion: updated ? replacedVersion : null,
    };
  }
}

// --- answers ----------------------------------------------------------------------------------

/** An error answer: `{ success: false, error, reason, ...extra }` with the reason's status. */
class Refusal {
  constructor(reason, error, extra = {}, headers = {}) {
    this.status = REASONS[reason].status;
    this.body = { success: false, error, reason, ...extra };
    this.headers = headers;
    this.verdict = reason;
  }
}

function send(request, response, { status, body, headers = {} }) {
  const text = JSON.stringify(body);
  const allHeaders = {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  };
  // A body left unread (refused before or while reading it) is not drained: close instead.
  if (!request.complete) allHeaders.Connection = 'close';
  response.writeHead(status, allHeaders);
  response.end(text);
}

const ok = (body, verdict = 'read') => ({ status: 200, body: { success: true, ...body }, verdict });

function methodNotAllowed(method, path, allowed, advice) {
  return new Refusal(
    ErrorReason.METHOD_NOT_ALLOWED,
    `${method} is not allowed on ${path}; ${advice}`,
    {},
    { Allow: allowed },
  );
}

function tooLarge(limit) {
  return new Refusal(
    ErrorReason.BODY_TOO_LARGE,
    `the body is larger than this receiver's limit of ${limit} bytes; a model_registered ` +
      'event is a few hundred bytes, so send only the event',
  );
}

/** The answer to a delivery that receive() refused, with the details its error carries. */
function receiveRefusal(error) {
  if (error instanceof PayloadError) return payloadRefusal(error);
  if (error instanceof TimestampError) {
    return new Refusal(error.reason, error.message, {
      tolerance_seconds: error.toleranceSeconds,
      field: '$.timestamp',
    });
  }
  if (error.reason === ErrorReason.NO_SECRET_CONFIGURED) {
    return new Refusal(error.reason, SECRET_NOT_CONFIGURED); // the words the real website answered
  }
  return new Refusal(error.reason, error.message);
}

function payloadRefusal(error) {
  const [first] = error.violations;
  const words =
    error.problem === PayloadProblem.INVALID_JSON
      ? `${first.message}; nothing was stored`
      : `the body breaks the model_registered schema at ${first.path}: ${first.message}; fix ` +
        'it and resend (every problem is listed in violations)';
  return new Refusal(error.problem, words, {
    field: error.firstPath,
    violations: error.violations,
  });
}

function acceptedMessage({ token, duplicate, keySeenBefore, updated, replacedVersion }) {
  const id = token.token_id;
  if (!duplicate) return `token ${id} moved from DRAFT to REGISTERED`;
  if (updated) {
    return (
      `token ${id} was already REGISTERED; its latest model version is now ` +
      `${token.model_version} (was ${replacedVersion ?? 'none'})`
    );
  }
  if (keySeenBefore) {
    return `token ${id} is already REGISTERED and this idempotency key was seen before; nothing changed`;
  }
  return `token ${id} was already REGISTERED (model version ${token.model_version}); nothing changed`;
}

function accepted(outcome) {
  const { token, duplicate, updated } = outcome;
  const id = token.token_id;
  const message = acceptedMessage(outcome);
  return ok(
    {
      token_id: id,
      status: token.status,
      model_version: token.model_version,
      duplicate,
      message,
    },
    updated ? 'updated' : duplicate ? 'duplicate' : 'registered',
  );
}

// --- reading the body -------------------------------------------------------------------------

/**
 * The raw body bytes; rejects with a 413 refusal when they exceed `limit`, whatever the headers
 * claim: a declared length over the limit is refused before reading, a streamed body as soon
 * as it passes the limit.
 */
function readBody(request, limit) {
  const declared = Number(request.headers['content-length']);
  if (declared > limit) return Promise.reject(tooLarge(limit));
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    const stop = () => {
      request.off('data', onData).off('end', onEnd).off('close', onClose);
    };
    const onData = (chunk) => {
      size += chunk.length;
      if (size <= limit) {
        chunks.push(chunk);
        return;
      }
      stop();
      request.pause();
      reject(tooLarge(limit));
    };
    const onEnd = () => {
      stop();
      resolve(Buffer.concat(chunks, size));
    };
    const onClose = () => {
      stop();
      reject(new Error('the client closed the connection before sending the whole body'));
    };
    request.on('data', onData).on('end', onEnd).on('close', onClose);
  });
}

// --- judging a delivery -----------------------------------------------------------------------

function idempotencyKey(request) {
  const key = String(request.headers[IDEMPOTENCY_KEY_HEADER.toLowerCase()] ?? '').trim();
  return key.slice(0, IDEMPOTENCY_KEY_KEPT) || null;
}

function checkedOptions({ toleranceSeconds, maxBodyBytes }) {
  const tolerance = checkedTolerance(toleranceSeconds);
  if (!(Number.isSafeInteger(maxBodyBytes) && maxBodyBytes > 0)) {
    throw new TypeError(
      `maxBodyBytes must be a positive whole number of bytes; got ${maxBodyBytes}`,
    );
  }
  return tolerance;
}

/**
 * A `(request, response)` listener for node:http (or Express, mounted without a body parser)
 * implementing the receiver side of the contract. `secrets`: one or several (rotation); none
 * means every delivery is refused with 500. `tokens`: ids seeded as DRAFT, or pass `store`.
 * `log` receives one line per answer; it is never given a secret or a whole signature.
 */
export function createHandler({
  secrets = null,
  tokens = [],
  toleranceSeconds = null,
  maxBodyBytes = DEFAULT_MAX_BODY_BYTES,
  store = new MemoryTokenStore(tokens),
  log = () => {},
} = {}) {
  const keys = secretKeys(secrets);
  const tolerance = checkedOptions({ toleranceSeconds, maxBodyBytes });

  async function deliver(request) {
    const rawBody = await readBody(request, maxBodyBytes);
    let event;
    try {
      event = receive(rawBody, request.headers, keys, { toleranceSeconds: tolerance });
    } catch (error) {
      if (error instanceof ReceiveError) return receiveRefusal(error);
      throw error;
    }
    const tokenId = tokenIdOf(event);
    const outcome = store.register(tokenId, event, idempotencyKey(request));
    if (outcome === null) {
      return new Refusal(
        ErrorReason.UNKNOWN_TOKEN,
        `no token ${tokenId} exists on this receiver; check the token id the sender used, ` +
          'or create the token first',
      );
    }
    return accepted(outcome);
  }

  function tokenState(rawId) {
    let id = rawId;
    try {
      id = decodeURIComponent(rawId);
    } catch {
      // not percent-encoded text: judge it as it came
    }
    const token = tokenIdProblem(id) === null ? store.get(id.toUpperCase()) : null;
    if (token === null) {
      return new Refusal(
        ErrorReason.UNKNOWN_TOKEN,
        `no token ${id.toUpperCase()} exists on this receiver; seed it with TOKENS=... when ` +
          'starting the example server',
      );
    }
    return ok(token);
  }

  async function answer(request) {
    const path = (request.url ?? '/').split('?')[0];
    const method = request.method;
    if (WEBHOOK_PATHS.includes(path)) {
      if (method === 'POST') return deliver(request);
      return methodNotAllowed(method, path, 'POST', 'send the event with POST');
    }
    const readable = path === HEALTH_PATH || path.startsWith(TOKENS_PATH_PREFIX);
    if (readable && method !== 'GET' && method !== 'HEAD') {
      return methodNotAllowed(method, path, 'GET, HEAD', 'use GET');
    }
    if (path === HEALTH_PATH) return ok({ status: 'ok' });
    if (readable) return tokenState(path.slice(TOKENS_PATH_PREFIX.length));
    return new Refusal(
      ErrorReason.UNKNOWN_PATH,
      `nothing is served at ${path}; deliveries go to POST ${WEBHOOK_PATHS.join(' or ')}, ` +
        `token state is at GET ${TOKENS_PATH_PREFIX}<token_id>`,
    );
  }

  async function handler(request, response) {
    let result;
    try {
      result = await answer(request);
    } catch (error) {
      if (error instanceof Refusal) {
        result = error;
      } else if (request.destroyed) {
        return; // the client went away mid-body: nobody to answer
      } else {
        log(`internal error on ${request.method} ${request.url}: ${error?.stack ?? error}`);
        result = new Refusal(
          ErrorReason.INTERNAL_ERROR,
          `the receiver failed (${error?.name ?? 'error'}); see its log, and report the problem ` +
            'if resending does not help',
        );
      }
    }
    log(`${request.method} ${request.url} -> ${result.status} ${result.verdict}`);
    send(request, response, result);
  }

  handler.store = store;
  return handler;
}

/**
 * Serve `createHandler(options)` on `host:port` (port 0: a free one). Resolves to
 * `{ server, handler, port, url, close }`; `close()` stops the server and every connection.
 */
export async function startServer({ port = 0, host = '127.0.0.1', ...options } = {}) {
  const handler = createHandler(options);
  const server = createServer(handler);
  return await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const actualPort = server.address().port;
      const close = () =>
        new Promise((done) => {
          server.close(() => done());
          server.closeAllConnections();
        });
      resolve({ server, handler, port: actualPort, url: `http://${host}:${actualPort}`, close });
    });
  });
}
