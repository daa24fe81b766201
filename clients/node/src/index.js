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
  API_SCHEMA_REQUIRED_FIELDS,
  EVENT_TYPE,
  MODEL_REQUIRED_FIELDS,
  MODEL_STATUS,
  PATTERNS,
  PayloadError,
  PayloadProblem,
  REQUIRED_FIELDS,
  SOURCE,
  STATUS_REGISTERED,
  STORED_MODEL_TEXT_FIELDS,
  STORED_TEXT_FIELDS,
  Shape,
  V2_REQUIRED_FIELDS,
  parseBody,
  parseTimestamp,
  payloadShape,
  payloadViolations,
  tokenIdOf,
  unstorableText,
  validatePayload,
} from './payload.js';

export const EVENT_HEADER = 'X-Hokusai-Event';
export const IDEMPOTENCY_KEY_HEADER = 'X-Hokusai-Idempotency-Key';
/** The website's current default webhook path. */
export const CURRENT_PATH = '/api/webhooks/model-registration';
/** The seed webhook path, still served beside CURRENT_PATH. */
export const SEED_PATH = '/api/mlflow/registered';
/** Every path the website serves the webhook at; each accepts both body shapes. */
export const WEBHOOK_PATHS = Object.freeze([CURRENT_PATH, SEED_PATH]);
/** The path senders here deliver to by default: the seed path, which every receiver serves. */
export const DEFAULT_PATH = SEED_PATH;
