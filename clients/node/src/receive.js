// Receive one delivery: the signature over the raw bytes first, then the body.
//
// The same order and outcomes as the reference receivers, without HTTP: nothing is parsed
// before the signature has verified, so an unsigned body never reaches JSON.parse. The order is
// the contract's: signature, timestamp tolerance (only when one is asked for), JSON, schema.

import { ReceiveError } from './errors.js';
import {
  PayloadError,
  PayloadProblem,
  STATUS_REGISTERED,
  Shape,
  parseBody,
  parseTimestamp,
  payloadShape,
  payloadViolations,
  tokenIdOf,
  unstorableText,
} from './payload.js';
import { SIGNATURE_HEADER, verifyOrThrow } from './signing.js';

export const TIMESTAMP_OUTSIDE_TOLERANCE = 'timestamp_outside_tolerance';

/**
 * The delivery's timestamp is further from the receiver's clock than its tolerance.
 * `skewSeconds` is how far the clock is past the timestamp (negative: in the future).
 */
export class TimestampError extends ReceiveError {
  constructor(timestamp, skewSeconds, toleranceSeconds) {
    const direction = skewSeconds > 0 ? 'old' : 'in the future';
    super(
      `the timestamp ${timestamp} is ${Math.round(Math.abs(skewSeconds))} s ${direction}; ` +
        `this receiver accepts deliveries within ${toleranceSeconds} s of its clock, so stamp ` +
        'each attempt when it is sent (not when the event was first built) and check the ' +
        "sender's clock",
    );
    this.name = 'TimestampError';
    this.reason = TIMESTAMP_OUTSIDE_TOLERANCE;
    this.timestamp = timestamp;
    this.skewSeconds = skewSeconds;
    this.toleranceSeconds = toleranceSeconds;
  }
}

/** A replay tolerance as given (null or undefined: none), or a TypeError saying what it must be. */
export function checkedTolerance(toleranceSeconds) {
  const tolerance = toleranceSeconds ?? null;
  if (tolerance !== null && !(Number.isFinite(tolerance) && tolerance > 0)) {
    throw new TypeError(
      'toleranceSeconds must be a positive number of seconds, or null for no replay check; ' +
        `got ${toleranceSeconds}`,
    );
  }
  return tolerance;
}

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

/** Throw TimestampError when the timestamp is outside the tolerance; an unreadable one is left
 * to the schema, which names it. */
function checkTolerance(payload, toleranceSeconds, now) {
  const timestamp = payload?.timestamp;
  if (typeof timestamp !== 'string') return;
  let moment;
  try {
    moment = parseTimestamp(timestamp);
  } catch {
    return;
  }
  const skewSeconds = (now.getTime() - moment.getTime()) / 1000;
  if (Math.abs(skewSeconds) > toleranceSeconds) {
    throw new TimestampError(timestamp, skewSeconds, toleranceSeconds);
  }
}

/** A valid event with its token id and status in the forms a receiver looks up and stores. */
function normalized(event) {
  const token = { id: tokenIdOf(event), status: STATUS_REGISTERED };
  if (payloadShape(event) === Shape.V1) {
    return { ...event, token_id: token.id, status: token.status };
  }
  return { ...event, model: { ...event.model, ...token } };
}

/**
 * The event of one delivery, verified and validated, with its token id upper-cased and its
 * status written `REGISTERED` (the forms a receiver looks up and stores): `token_id` and
 * `status` in a v1 body, `model.id` and `model.status` in a v2 body (see payloadShape;
 * tokenIdOf reads either).
 *
 * Throws a ReceiveError: a SignatureError (`reason` a FailureReason) before the body is looked
 * at, else a PayloadError (`reason` `invalid_json` or `schema_violation`). With
 * `toleranceSeconds`, a parsed body whose timestamp is further than that from `now` (a Date;
 * default: the current time) throws a TimestampError (`reason` `timestamp_outside_tolerance`)
 * before the schema is checked; by default no replay tolerance is enforced, as that is each
 * receiver's own choice.
 */
export function receive(rawBody, headers, secrets, { toleranceSeconds = null, now } = {}) {
  const tolerance = checkedTolerance(toleranceSeconds);
  verifyOrThrow(rawBody, headerValue(headers, SIGNATURE_HEADER), secrets);
  const payload = parseBody(rawBody);
  if (tolerance !== null) checkTolerance(payload, tolerance, now ?? new Date());
  const violations = payloadViolations(payload);
  if (violations.length === 0) violations.push(...unstorableText(payload));
  if (violations.length > 0) {
    throw new PayloadError(PayloadProblem.SCHEMA_VIOLATION, violations);
  }
  return normalized(payload);
}
