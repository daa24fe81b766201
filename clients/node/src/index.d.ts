// Type declarations for @hokusai/contracts.

/** The exact bytes of a body as received. A string is taken as its UTF-8 bytes. */
export type RawBody = Uint8Array | ArrayBuffer | string;
/** A webhook secret: its UTF-8 bytes (or the given bytes) are the HMAC key, exactly. */
export type Secret = string | Uint8Array;
/**
 * One secret, or several during a rotation; empty, null and undefined entries are ignored (an
 * unset variable in a rotation list), and `secretIndex` still counts them.
 */
export type Secrets = Secret | Iterable<Secret | null | undefined> | null | undefined;

export const SIGNATURE_HEADER: 'X-Hokusai-Signature';
export const SIGNATURE_PREFIX: 'sha256=';
export const EVENT_HEADER: 'X-Hokusai-Event';
export const IDEMPOTENCY_KEY_HEADER: 'X-Hokusai-Idempotency-Key';
/** The website's current default webhook path. */
export const CURRENT_PATH: '/api/webhooks/model-registration';
/** The seed webhook path, still served beside CURRENT_PATH. */
export const SEED_PATH: '/api/mlflow/registered';
/** Every path the website serves the webhook at; each accepts both body shapes. */
export const WEBHOOK_PATHS: readonly ['/api/webhooks/model-registration', '/api/mlflow/registered'];
/** The path senders here deliver to by default: the seed path. */
export const DEFAULT_PATH: '/api/mlflow/registered';
export const EVENT_TYPE: 'model_registered';
export const STATUS_REGISTERED: 'REGISTERED';
/** `model.status` as the SDK's v2 senders write it. */
export const MODEL_STATUS: 'registered';
/** The v2 body's `source`. */
export const SOURCE: 'mlflow';
export const MAX_TOKEN_ID_LENGTH: 64;

export const FailureReason: Readonly<{
  NO_SECRET_CONFIGURED: 'no_secret_configured';
  MISSING_HEADER: 'missing_header';
  MALFORMED_HEADER: 'malformed_header';
  MISMATCH: 'mismatch';
}>;
export type FailureReason = (typeof FailureReason)[keyof typeof FailureReason];

export type Verification =
  | { readonly ok: true; readonly reason: null; readonly secretIndex: number }
  | { readonly ok: false; readonly reason: FailureReason; readonly secretIndex: null };

/** `sha256=<lowercase hex>` of HMAC-SHA256(secret, body). Throws TypeError for a parsed object. */
export function sign(body: RawBody, secret: Secret): string;
/** Never throws for any header value; constant-time; `secretIndex` names the matching secret. */
export function verify(rawBody: RawBody, header: unknown, secrets: Secrets): Verification;
/** Like verify, but throws SignatureError on failure. */
export function verifyOrThrow(
  rawBody: RawBody,
  header: unknown,
  secrets: Secrets,
): Extract<Verification, { ok: true }>;
/** The 32 digest bytes of a header value, or why it cannot be read. */
export function parseSignatureHeader(header: unknown): Uint8Array | FailureReason;
/** Secrets as key bytes, empty ones dropped. */
export function secretKeys(secrets: Secrets): Uint8Array[];
/** A sentence saying what was wrong and what to do. */
export function explain(reason: FailureReason): string;

/**
 * A refused delivery, whichever check refused it; `reason` is its stable code. receive throws
 * only this: a SignatureError, a TimestampError (only with a tolerance) or a PayloadError.
 */
export class ReceiveError extends Error {
  readonly reason: FailureReason | PayloadProblem | typeof TIMESTAMP_OUTSIDE_TOLERANCE;
}

export class SignatureError extends ReceiveError {
  constructor(reason: FailureReason);
  readonly reason: FailureReason;
}

export const TokenIdRule: Readonly<{
  NOT_A_STRING: 'not_a_string';
  EMPTY: 'empty';
  TOO_LONG: 'too_long';
  INVALID_CHARACTER: 'invalid_character';
  LEADING_HYPHEN: 'leading_hyphen';
  TRAILING_HYPHEN: 'trailing_hyphen';
}>;
export type TokenIdRule = (typeof TokenIdRule)[keyof typeof TokenIdRule];

export class TokenIdError extends Error {
  constructor(rule: TokenIdRule, value: unknown, message: string);
  readonly rule: TokenIdRule;
  readonly value: unknown;
}

/** The id upper-cased, or throws TokenIdError naming the broken rule. */
export function normalizeTokenId(value: unknown): string;
export function tokenIdProblem(value: unknown): TokenIdError | null;
export function isValidTokenId(value: unknown): value is string;
/** null, boolean, number, array, object (or the class name of other objects). */
export function jsonTypeName(value: unknown): string;

/** The model_registered v1 body. */
export interface ModelRegisteredEvent {
  event_type: 'model_registered';
  timestamp: string;
  token_id: string;
  model_name: string;
  model_version: string;
  mlflow_run_id: string | null;
  metric_name: string;
  baseline_value: number;
  status: string;
  tags?: Record<string, string | number | boolean | null>;
  [unknownField: string]: unknown;
}

/** How to call the model, derived from its MLflow signature. */
export interface ApiSchema {
  inputSchema: Record<string, unknown>;
  outputSchema: Record<string, unknown>;
  endpoint?: string;
  method?: string;
  exampleInput?: unknown;
  exampleOutput?: unknown;
  errorCodes?: unknown[] | Record<string, unknown>;
  [unknownField: string]: unknown;
}

/** The model_registered v2 body: the token id is `model.id`. */
export interface ModelRegisteredEventV2 {
  event_type: 'model_registered';
  model: {
    id: string;
    name: string;
    status: string;
    version?: string;
    run_id?: string;
    user_id?: string;
    /** Absent: the site keeps its API schema; null: clears it; an object: replaces it. */
    api_schema?: ApiSchema | null;
    eval_spec?: Record<string, unknown>;
    scorer_ref?: string;
    primary_metric?: string;
    benchmark_spec_id?: string;
    [unknownField: string]: unknown;
  };
  timestamp: string;
  source: 'mlflow';
  [unknownField: string]: unknown;
}

/** Either shape of body a receiver accepts. */
export type ModelRegisteredPayload = ModelRegisteredEvent | ModelRegisteredEventV2;

export const Shape: Readonly<{ V1: 'v1'; V2: 'v2' }>;
export type Shape = (typeof Shape)[keyof typeof Shape];
/** v1 when the body has a top-level token_id (the website's order), else v2. */
export function payloadShape(payload: unknown): Shape;
/** The token a payload registers, upper-cased: token_id (v1) or model.id (v2). */
export function tokenIdOf(payload: unknown): string;

export const REQUIRED_FIELDS: readonly string[];
export const V2_REQUIRED_FIELDS: readonly ['event_type', 'model', 'timestamp', 'source'];
export const MODEL_REQUIRED_FIELDS: readonly ['id', 'name', 'status'];
export const API_SCHEMA_REQUIRED_FIELDS: readonly ['inputSchema', 'outputSchema'];
export const PATTERNS: Readonly<
  Record<
    'timestamp' | 'token_id' | 'model_name' | 'model_version' | 'metric_name' | 'status',
    RegExp
  >
>;

export const PayloadProblem: Readonly<{
  INVALID_JSON: 'invalid_json';
  SCHEMA_VIOLATION: 'schema_violation';
}>;
export type PayloadProblem = (typeof PayloadProblem)[keyof typeof PayloadProblem];

export interface Violation {
  /** JSON path such as `$.token_id`. */
  path: string;
  message: string;
}

export class PayloadError extends ReceiveError {
  constructor(problem: PayloadProblem, violations: Violation[]);
  readonly problem: PayloadProblem;
  /** The same as `problem`. */
  readonly reason: PayloadProblem;
  readonly violations: Violation[];
  readonly firstPath: string | null;
}

/** Strict UTF-8 JSON: no byte order mark, no duplicate keys. Throws PayloadError. */
export function parseBody(rawBody: RawBody): unknown;
/** RFC 3339; no offset means UTC. Throws RangeError. */
export function parseTimestamp(value: string): Date;
export function payloadViolations(payload: unknown): Violation[];
/** Raw bytes (parsed strictly) or a parsed payload; throws PayloadError. */
export function validatePayload(payloadOrBody: unknown): ModelRegisteredPayload;
/** The free-text fields of a v1 body a receiver stores. */
export const STORED_TEXT_FIELDS: readonly ['model_name', 'metric_name', 'mlflow_run_id'];
/** The free-text fields of a v2 body's model a receiver stores. */
export const STORED_MODEL_TEXT_FIELDS: readonly ['name', 'run_id', 'primary_metric'];
/** Violations for stored text with an unpaired surrogate, which no UTF-8 column can hold. */
export function unstorableText(payload: Record<string, unknown>): Violation[];

/**
 * Request headers, names in any letter case: a fetch `Headers` (or anything with a
 * case-insensitive `get`), a `Map`, or a plain object such as `IncomingMessage.headers`.
 */
export type RequestHeaders =
  | { get(name: string): string | null | undefined }
  | ReadonlyMap<string, string | readonly string[] | undefined>
  | Readonly<Record<string, string | readonly string[] | undefined>>;

export const TIMESTAMP_OUTSIDE_TOLERANCE: 'timestamp_outside_tolerance';

/** The delivery's timestamp is further from the receiver's clock than its tolerance. */
export class TimestampError extends ReceiveError {
  constructor(timestamp: string, skewSeconds: number, toleranceSeconds: number);
  readonly reason: typeof TIMESTAMP_OUTSIDE_TOLERANCE;
  readonly timestamp: string;
  /** How far the clock is past the timestamp; negative when it is in the future. */
  readonly skewSeconds: number;
  readonly toleranceSeconds: number;
}

export interface ReceiveOptions {
  /** Refuse timestamps further than this (> 0) from `now` (TimestampError); null: not checked. */
  toleranceSeconds?: number | null;
  /** The receiver's clock reading; default: the current time. */
  now?: Date;
}

/**
 * Verify the signature over the raw bytes, then parse and validate the body: the event with its
 * token id upper-cased and its status written `REGISTERED` (`token_id` and `status` in v1,
 * `model.id` and `model.status` in v2). Throws ReceiveError (SignatureError
 * before the body is looked at, then TimestampError when a tolerance is given, else
 * PayloadError); TypeError for a body that is not bytes or a tolerance that is not positive.
 */
export function receive(
  rawBody: RawBody,
  headers: RequestHeaders,
  secrets: Secrets,
  options?: ReceiveOptions,
): ModelRegisteredPayload;
