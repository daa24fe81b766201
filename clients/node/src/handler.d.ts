// Type declarations for @hokusai/contracts/handler.

import type { IncomingMessage, Server, ServerResponse } from 'node:http';

import type { ApiSchema, FailureReason, ModelRegisteredPayload, Secrets } from './index.js';

export const DEFAULT_MAX_BODY_BYTES: number;
export const TOKENS_PATH_PREFIX: '/api/tokens/';
export const HEALTH_PATH: '/health';
export const SECRET_NOT_CONFIGURED: 'Webhook secret not configured';

/** Every reason an answer can carry, read from schemas/vectors/receiver_cases.v1.json. */
export const ErrorReason: Readonly<{
  UNKNOWN_PATH: 'unknown_path';
  METHOD_NOT_ALLOWED: 'method_not_allowed';
  MALFORMED_REQUEST: 'malformed_request';
  BODY_TOO_LARGE: 'body_too_large';
  NO_SECRET_CONFIGURED: 'no_secret_configured';
  MISSING_HEADER: 'missing_header';
  MALFORMED_HEADER: 'malformed_header';
  MISMATCH: 'mismatch';
  TIMESTAMP_OUTSIDE_TOLERANCE: 'timestamp_outside_tolerance';
  INVALID_JSON: 'invalid_json';
  SCHEMA_VIOLATION: 'schema_violation';
  UNKNOWN_TOKEN: 'unknown_token';
  INTERNAL_ERROR: 'internal_error';
}>;
export type ErrorReason = (typeof ErrorReason)[keyof typeof ErrorReason] | FailureReason;

export const TokenStatus: Readonly<{ DRAFT: 'DRAFT'; REGISTERED: 'REGISTERED' }>;

export interface Token {
  token_id: string;
  status: 'DRAFT' | 'REGISTERED';
  model_name: string | null;
  model_version: string | null;
  mlflow_run_id: string | null;
  metric_name: string | null;
  baseline_value: number | null;
  registered_at: string | null;
  idempotency_key: string | null;
  /** The latest API schema a v2 body sent; null when none was sent or it was cleared. */
  api_schema: ApiSchema | null;
}

export interface Registration {
  token: Token;
  /** True when there was no transition: the token was REGISTERED already or the key was seen. */
  duplicate: boolean;
  /** True when this idempotency key was already accepted for this token. */
  keySeenBefore: boolean;
  /** True when a later version (v2 body) replaced a REGISTERED token's latest version. */
  updated: boolean;
  /** The version stored before, when `updated`. */
  replacedVersion: string | null;
}

/** What an accepted event writes onto its token, from either shape of body. */
export function registrationOf(event: ModelRegisteredPayload): {
  fields: Pick<
    Token,
    'model_name' | 'model_version' | 'mlflow_run_id' | 'metric_name' | 'baseline_value'
  >;
  /** undefined: keep the stored API schema. */
  apiSchema: ApiSchema | null | undefined;
  laterVersionUpdates: boolean;
};

export interface TokenStore {
  get(tokenId: string): Token | null;
  register(
    tokenId: string,
    event: ModelRegisteredPayload,
    idempotencyKey?: string | null,
  ): Registration | null;
}

/** Tokens in memory (declaration merging: the class has every TokenStore method). */
export interface MemoryTokenStore extends TokenStore {}
export class MemoryTokenStore {
  constructor(tokenIds?: Iterable<string>);
  /** Add a DRAFT token unless it exists; returns the upper-cased id. */
  add(tokenId: string): string;
}

export interface HandlerOptions {
  /** One secret or several (rotation); none: every delivery is refused with 500. */
  secrets?: Secrets;
  /** Token ids seeded as DRAFT (ignored when `store` is given). */
  tokens?: Iterable<string>;
  /** Refuse timestamps further than this (> 0) from the clock (401); null: not enforced. */
  toleranceSeconds?: number | null;
  /** Default 1 MiB; larger bodies get 413 and are not read further. */
  maxBodyBytes?: number;
  store?: TokenStore;
  /** One line per answered request; never given a secret or a signature. */
  log?: (line: string) => void;
}

export type Handler = ((request: IncomingMessage, response: ServerResponse) => Promise<void>) & {
  readonly store: TokenStore;
};

export function createHandler(options?: HandlerOptions): Handler;

export interface RunningServer {
  server: Server;
  handler: Handler;
  port: number;
  url: string;
  close(): Promise<void>;
}

export function startServer(
  options?: HandlerOptions & { port?: number; host?: string },
): Promise<RunningServer>;
