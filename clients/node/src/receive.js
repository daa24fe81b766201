// Receive one delivery: the signature over the raw bytes first, then the body.
//
// The same order and outcomes as the reference receivers, without HTTP: nothing is parsed
// before the signature has verified, so an unsigned body never reaches JSON.parse.

import {
  PayloadError,
  PayloadProblem,
  STATUS_REGISTERED,
  unstorableText,
  validatePayload,
} from './payload.js';
import { SIGNATURE_HEADER, verifyOrThrow } from './signing.js';
import { normalizeTokenId } from './tokens.js';

/**
 * A header's value whatever the letter case of its name: from a fetch `Headers` (or anything
 * with a case-insensitive `get`, such as an Express request), a `Map`, or a plain object such
 * as `IncomingMessage.headers`. A header sent twice reads as malformed, never as either copy.
 */
function headerValue(headers, name) {
  if (headers === null || headers === undefined) return undefined;
  if (typeof headers.get === 'function' && !(headers instanceof Map)) return headers.get(name);
  const entries = headers instanceof Map ? headers.entries() : Object.entries(headers);
  const wanted = name.toLowerCase();
  for (const [key, value] of entries) {
    if (key.toLowerCase() === wanted) {
      return Array.isArray(value) && value.length === 1 ? value[0] : value;
    }
  }
  return undefined;
}

/**
 * The event of one delivery, verified and validated, with `token_id` upper-cased and `status`
 * written `REGISTERED` (the forms a receiver looks up and stores).
 *
 * Throws a ReceiveError: a SignatureError (`reason` a FailureReason) before the body is looked
 * at, else a PayloadError (`reason` `invalid_json` or `schema_violation`). A replay tolerance on
 * the timestamp is each receiver's own choice and is not checked here.
 */
export function receive(rawBody, headers, secrets) {
  verifyOrThrow(rawBody, headerValue(headers, SIGNATURE_HEADER), secrets);
  const event = validatePayload(rawBody);
  const violations = unstorableText(event);
  if (violations.length > 0) {
    throw new PayloadError(PayloadProblem.SCHEMA_VIOLATION, violations);
  }
  return { ...event, token_id: normalizeTokenId(event.token_id), status: STATUS_REGISTERED };
}
