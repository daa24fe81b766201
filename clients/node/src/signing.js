// HMAC-SHA256 signatures over the exact raw body bytes.
//
// The contract: `X-Hokusai-Signature: sha256=<hex>` where hex is HMAC-SHA256 keyed with the
// secret's UTF-8 bytes over the body exactly as it travelled. Verifying anything else (the
// JSON.stringify of a parsed body, a trimmed secret) is the bug this module exists to prevent.

import { createHmac, timingSafeEqual } from 'node:crypto';

import { bodyBytes, utf8 } from './bytes.js';
import { ReceiveError } from './errors.js';
import { jsonTypeName } from './tokens.js';

export const SIGNATURE_HEADER = 'X-Hokusai-Signature';
export const SIGNATURE_PREFIX = 'sha256=';
const HEX_DIGEST = /^[0-9a-fA-F]{64}$/;

/** Why a signature did not verify; the values are shared with every language client. */
export const FailureReason = Object.freeze({
  NO_SECRET_CONFIGURED: 'no_secret_configured',
  MISSING_HEADER: 'missing_header',
  MALFORMED_HEADER: 'malformed_header',
  MISMATCH: 'mismatch',
});

const EXPLANATIONS = Object.freeze({
  [FailureReason.NO_SECRET_CONFIGURED]:
    'no webhook secret is configured on the verifying side; configure the same secret the ' +
    'sender uses (refusing everything until then is deliberate: fail closed)',
  [FailureReason.MISSING_HEADER]:
    `the ${SIGNATURE_HEADER} header is missing; the sender must sign the raw body and send ` +
    `'${SIGNATURE_PREFIX}<hex>' in that header`,
  [FailureReason.MALFORMED_HEADER]:
    `the ${SIGNATURE_HEADER} header is not '${SIGNATURE_PREFIX}' followed by 64 hex digits; ` +
    'check the prefix and that the whole digest was sent',
  [FailureReason.MISMATCH]:
    'the signature does not match the body; both sides must use the same secret (watch for ' +
    'whitespace or a newline around it) and sign or verify the exact raw body bytes, never ' +
    'a re-serialization of the parsed JSON',
});

/** A plain-words sentence for a failure reason: what was wrong and what to do about it. */
export function explain(reason) {
  const sentence = EXPLANATIONS[reason];
  if (sentence === undefined) {
    throw new TypeError(`unknown failure reason ${JSON.stringify(String(reason))}`);
  }
  return sentence;
}

/** A failed verification, thrown by verifyOrThrow; `reason` is a FailureReason value. */
export class SignatureError extends ReceiveError {
  constructor(reason) {
    super(explain(reason));
    this.name = 'SignatureError';
    this.reason = reason;
  }
}

function secretKey(secret) {
  if (typeof secret === 'string') return utf8(secret, 'the secret');
  if (secret instanceof Uint8Array) return secret;
  throw new TypeError(
    `a webhook secret must be a string or bytes, got ${jsonTypeName(secret)}; configure it as text`,
  );
}

/**
 * One secret or several (rotation) as key bytes. Empty, null and undefined entries are dropped
 * (`[env.SECRET, env.PREVIOUS_SECRET]` may hold an unset one), so a blank configuration reads
 * as "no secret" and fails closed. verify's `secretIndex` still counts the dropped entries.
 */
export function secretKeys(secrets) {
  return configuredKeys(secrets).map(([, key]) => key);
}

/** `[position, key]` of each usable secret; skipped entries keep their positions. */
function configuredKeys(secrets) {
  if (secrets === null || secrets === undefined) return [];
  const list =
    typeof secrets === 'string' || secrets instanceof Uint8Array
      ? [secrets]
      : typeof secrets[Symbol.iterator] === 'function'
        ? Array.from(secrets)
        : [secrets];
  const unset = (secret) => secret === null || secret === undefined;
  return list
    .map((secret, index) => [index, unset(secret) ? null : secretKey(secret)])
    .filter(([, key]) => key !== null && key.length > 0);
}

function hmac(key, body) {
  return createHmac('sha256', key).update(body).digest();
}

/**
 * The header value `sha256=<lowercase hex>` for `body` under `secret`.
 * The secret is used exactly as given: trim pasted whitespace before calling, not after.
 */
export function sign(body, secret) {
  const bytes = bodyBytes(body, 'sign');
  const key = secretKey(secret);
  if (key.length === 0) {
    throw new RangeError('cannot sign with an empty secret; configure a webhook secret');
  }
  return SIGNATURE_PREFIX + hmac(key, bytes).toString('hex');
}

/**
 * The 32 digest bytes of a header value, or the FailureReason why it cannot be read.
 * Tolerates surrounding spaces and tabs and either case of hex; nothing else.
 */
export function parseSignatureHeader(header) {
  if (header === null || header === undefined || header === '') {
    return FailureReason.MISSING_HEADER;
  }
  if (typeof header !== 'string') return FailureReason.MALFORMED_HEADER;
  const value = header.replace(/^[ \t]+|[ \t]+$/g, '');
  if (value === '') return FailureReason.MISSING_HEADER;
  const hexDigest = value.slice(SIGNATURE_PREFIX.length);
  if (!value.startsWith(SIGNATURE_PREFIX) || !HEX_DIGEST.test(hexDigest)) {
    return FailureReason.MALFORMED_HEADER;
  }
  return Buffer.from(hexDigest, 'hex');
}

function failed(reason) {
  return Object.freeze({ ok: false, reason, secretIndex: null });
}

/**
 * Check `header` against `rawBody` under any of `secrets`; returns `{ ok, reason, secretIndex }`.
 *
 * Never throws for any header value; compares in constant time and tries every secret.
 * Order of checks: a secret is configured (fail closed), the header is present, it is well
 * formed, it matches. Throws TypeError only for a body that is not bytes or text.
 */
export function verify(rawBody, header, secrets) {
  const bytes = bodyBytes(rawBody, 'verify');
  const keys = configuredKeys(secrets);
  if (keys.length === 0) return failed(FailureReason.NO_SECRET_CONFIGURED);
  const digest = parseSignatureHeader(header);
  if (typeof digest === 'string') return failed(digest);
  let matched = null;
  for (const [index, key] of keys) {
    // Every key is tried, so the time taken does not depend on which one matched.
    if (timingSafeEqual(hmac(key, bytes), digest) && matched === null) matched = index;
  }
  if (matched === null) return failed(FailureReason.MISMATCH);
  return Object.freeze({ ok: true, reason: null, secretIndex: matched });
}

/** Like verify, but throws SignatureError carrying the reason when the signature fails. */
export function verifyOrThrow(rawBody, header, secrets) {
  const verification = verify(rawBody, header, secrets);
  if (!verification.ok) throw new SignatureError(verification.reason);
  return verification;
}
