// @hokusai/contracts: the model_registered webhook contract for Node.js.
//
// Sign and verify `X-Hokusai-Signature: sha256=<hex>` over the exact raw body bytes, normalize
// token ids, validate the body, and receive a delivery (all of it, in the contract's order),
// with the same rules, reasons and messages as every other language client. No dependencies
// beyond node:crypto.

export { ReceiveError } from './errors.js';
export { TIMESTAMP_OUTSIDE_TOLERANCE, TimestampError, receive } from './receive.js';
export {
  FailureReason,
  SIGNATURE_HEADER,
  SIGNATURE_PREFIX,
  SignatureError,
  explain,
  parseSignatureHeader,
  secretKeys,
  sign,
  verify,
  verifyOrThrow,
} from './signing.js';
export {
  MAX_TOKEN_ID_LENGTH,
  TokenIdError,
  TokenIdRule,
  isValidTokenId,
  jsonTypeName,
  normalizeTokenId,
  tokenIdProblem,
} from './tokens.js';
export {
  EVENT_TYPE,
  PATTERNS,
  PayloadError,
  PayloadProblem,
  REQUIRED_FIELDS,
  STATUS_REGISTERED,
  STORED_TEXT_FIELDS,
  parseBody,
  parseTimestamp,
  payloadViolations,
  unstorableText,
  validatePayload,
} from './payload.js';

export const EVENT_HEADER = 'X-Hokusai-Event';
export const IDEMPOTENCY_KEY_HEADER = 'X-Hokusai-Idempotency-Key';
export const DEFAULT_PATH = '/api/mlflow/registered';
