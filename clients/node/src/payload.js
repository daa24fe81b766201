// Parse and validate the `model_registered` body, by hand and without dependencies.
//
// Two shapes of body are accepted, told apart as the website does: a body with a top-level
// `token_id` is v1 (flat), any other body v2 (nested, the token id in `model.id`). The rules
// mirror schemas/model_registered.v1.schema.json and model_registered.v2.schema.json (the tests
// hold the patterns and the required lists to those files) plus what JSON Schema cannot state:
// a real calendar date and a finite number. Parsing is strict: UTF-8 only, no byte order mark,
// no duplicate keys. Violations come in the Python client's order: by the JSON path of the
// object each was found in, missing fields first.

import { bodyBytes } from './bytes.js';
import { ReceiveError } from './errors.js';
import {
  TokenIdError,
  TokenIdRule,
  jsonTypeName,
  normalizeTokenId,
  tokenIdProblem,
} from './tokens.js';

export const EVENT_TYPE = 'model_registered';
export const STATUS_REGISTERED = 'REGISTERED';
/** `model.status` as the SDK's v2 senders write it (receivers accept any letter case). */
export const MODEL_STATUS = 'registered';
/** The v2 body's `source`. */
export const SOURCE = 'mlflow';

/** The two shapes of body a receiver accepts (the `shape` of the payload vectors). */
export const Shape = Object.freeze({ V1: 'v1', V2: 'v2' });
export const REQUIRED_FIELDS = Object.freeze([
  'event_type',
  'timestamp',
  'token_id',
  'model_name',
  'model_version',
  'mlflow_run_id',
  'metric_name',
  'baseline_value',
  'status',
]);
export const V2_REQUIRED_FIELDS = Object.freeze(['event_type', 'model', 'timestamp', 'source']);
export const MODEL_REQUIRED_FIELDS = Object.freeze(['id', 'name', 'status']);
export const API_SCHEMA_REQUIRED_FIELDS = Object.freeze(['inputSchema', 'outputSchema']);

/** The schema's patterns, written as ECMA-262 regular expressions (as JSON Schema defines). */
export const PATTERNS = Object.freeze({
  timestamp:
    /^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])?$/,
  token_id: /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$/,
  model_name: /\S/,
  model_version: /^[0-9]{1,20}$/,
  metric_name: /\S/,
  status: /^[Rr][Ee][Gg][Ii][Ss][Tt][Ee][Rr][Ee][Dd]$/,
});

/** Why a body was refused: it is not JSON at all, or it is JSON that breaks the contract. */
export const PayloadProblem = Object.freeze({
  INVALID_JSON: 'invalid_json',
  SCHEMA_VIOLATION: 'schema_violation',
});

/**
 * A body is not a valid `model_registered` event; `violations` lists every problem and
 * `problem` (also `reason`) says whether it is not JSON at all or JSON that breaks the contract.
 */
export class PayloadError extends ReceiveError {
  constructor(problem, violations) {
    const listing = violations.map(({ path, message }) => `${path}: ${message}`).join('; ');
    super(`invalid model_registered payload: ${listing}`);
    this.name = 'PayloadError';
    this.problem = problem;
    this.violations = violations;
  }

  /** JSON path of the first violation, for answers that name one field. */
  get firstPath() {
    return this.violations[0]?.path ?? null;
  }

  /** The same code as `problem`: every error a refused delivery throws has a `reason`. */
  get reason() {
    return this.problem;
  }
}

// --- timestamps -------------------------------------------------------------------------------

const TIMESTAMP_SHAPE =
  /^([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})?$/;

/** Milliseconds since the epoch; unlike Date.UTC, years 0-99 are not moved to the 1900s. */
function utcMillis(year, month, day, hour = 0, minute = 0, second = 0, millisecond = 0) {
  const moment = new Date(0);
  moment.setUTCFullYear(year, month - 1, day);
  moment.setUTCHours(hour, minute, second, millisecond);
  return moment.getTime();
}

const FIRST_MOMENT = utcMillis(1, 1, 1);
const LAST_MOMENT = utcMillis(9999, 12, 31, 23, 59, 59, 999);

function daysInMonth(year, month) {
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
}

function impossibleField(year, month, day, hour, minute, second) {
  if (year < 1) return `year ${year} is out of range`;
  if (month < 1 || month > 12) return 'month must be in 1..12';
  if (day < 1 || day > daysInMonth(year, month)) return 'day is out of range for month';
  if (hour > 23) return 'hour must be in 0..23';
  if (minute > 59) return 'minute must be in 0..59';
  if (second > 60) return 'second must be in 0..59';
  return null;
}

/**
 * Parse an RFC 3339 date-time into a Date; a value without an offset is UTC. A leap second
 * (:60) reads as :59. Throws RangeError naming the problem.
 */
export function parseTimestamp(value) {
  const match = typeof value === 'string' ? TIMESTAMP_SHAPE.exec(value) : null;
  if (match === null) {
    throw new RangeError(
      `${JSON.stringify(value)} is not an RFC 3339 date-time such as 2025-08-21T14:42:23.646003Z`,
    );
  }
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number);
  const [fraction, offset] = [match[7], match[8]];
  const impossible = impossibleField(year, month, day, hour, minute, second);
  if (impossible !== null) {
    throw new RangeError(`${JSON.stringify(value)} is not a real date and time: ${impossible}`);
  }
  let offsetMinutes = 0;
  if (offset !== undefined && !'Zz'.includes(offset)) {
    const [hours, minutes] = [Number(offset.slice(1, 3)), Number(offset.slice(4, 6))];
    if (hours > 23 || minutes > 59) {
      throw new RangeError(`${JSON.stringify(value)} has an impossible UTC offset ${offset}`);
    }
    offsetMinutes = (offset[0] === '-' ? -1 : 1) * (hours * 60 + minutes);
  }
  const milliseconds = fraction ? Number((fraction.slice(1) + '000').slice(0, 3)) : 0;
  const local = utcMillis(year, month, day, hour, minute, Math.min(second, 59), milliseconds);
  const utc = local - offsetMinutes * 60_000;
  if (utc < FIRST_MOMENT || utc > LAST_MOMENT) {
    throw new RangeError(
      `${JSON.stringify(value)} is outside the years 1 to 9999 once converted to UTC`,
    );
  }
  return new Date(utc);
}

// --- parsing ----------------------------------------------------------------------------------

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function invalidJson(message) {
  return new PayloadError(PayloadProblem.INVALID_JSON, [{ path: '$', message }]);
}

/** The first key that appears twice in one object of already-valid JSON text, or null. */
function firstDuplicateKey(text) {
  const containers = []; // a Set of keys per open object, null per open array
  let expectingKey = false;
  for (let index = 0; index < text.length; index += 1) {
    const character = text[index];
    if (character === '"') {
      let end = index + 1;
      while (text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      const keys = containers.at(-1);
      if (expectingKey && keys) {
        const raw = text.slice(index, end + 1);
        const key = raw.includes('\\') ? JSON.parse(raw) : raw.slice(1, -1);
        if (keys.has(key)) return key;
        keys.add(key);
        expectingKey = false;
      }
      index = end;
    } else if (character === '{' || character === '[') {
      containers.push(character === '{' ? new Set() : null);
      expectingKey = character === '{';
    } else if (character === '}' || character === ']') {
      containers.pop();
    } else if (character === ',') {
      expectingKey = containers.at(-1) instanceof Set;
    }
  }
  return null;
}

/**
 * Parse raw body bytes as strict UTF-8 JSON (no byte order mark, no duplicate keys).
 * Throws PayloadError with problem "invalid_json".
 */
export function parseBody(rawBody) {
  let text;
  try {
    text = STRICT_UTF8.decode(bodyBytes(rawBody, 'parseBody'));
  } catch (error) {
    if (error instanceof TypeError && error.message.startsWith('parseBody()')) throw error;
    throw invalidJson('body is not UTF-8; send the JSON as UTF-8 bytes');
  }
  if (text.startsWith('\uFEFF')) {
    throw invalidJson('body starts with a byte order mark (EF BB BF); send the JSON without it');
  }
  let value;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw invalidJson(`body is not valid JSON: ${error.message}; send a JSON object`);
  }
  const duplicate = firstDuplicateKey(text);
  if (duplicate !== null) {
    throw invalidJson(`key ${JSON.stringify(duplicate)} appears twice; send each field once`);
  }
  return value;
}

// --- shapes -----------------------------------------------------------------------------------

const isPlainObject = (value) =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The shape a receiver judges `payload` as, in the website's order: `Shape.V1` when it has a
 * top-level `token_id` (even beside a `model`), else `Shape.V2` (anything that is not an object
 * too, as in model_registered.schema.json; validation then refuses it).
 */
export function payloadShape(payload) {
  return isPlainObject(payload) && Object.hasOwn(payload, 'token_id') ? Shape.V1 : Shape.V2;
}

/**
 * The token a payload registers, upper-cased: `token_id` in v1, `model.id` in v2. Throws
 * TokenIdError when the id is missing or breaks the token id rules.
 */
export function tokenIdOf(payload) {
  if (payloadShape(payload) === Shape.V1) return normalizeTokenId(payload.token_id);
  const model = isPlainObject(payload) ? payload.model : undefined;
  if (!isPlainObject(model) || !Object.hasOwn(model, 'id')) {
    throw new TokenIdError(
      TokenIdRule.NOT_A_STRING,
      null,
      'the payload names no token: a v1 body carries token_id, a v2 body model.id',
    );
  }
  return normalizeTokenId(model.id);
}

// --- validation -------------------------------------------------------------------------------

function described(value) {
  return typeof value === 'string' ? JSON.stringify(value) : jsonTypeName(value);
}

function nonBlank(pattern) {
  return (value) => {
    if (typeof value !== 'string') return `must be a string, got ${jsonTypeName(value)}`;
    return pattern.test(value) ? null : 'must not be empty or only whitespace';
  };
}

/** One checker per field: the message for a value that breaks the field's rule, else null. */
const FIELD_RULES = {
  event_type: (value) =>
    value === EVENT_TYPE ? null : `must be "${EVENT_TYPE}", got ${described(value)}`,
  timestamp: (value) =>
    typeof value === 'string' && PATTERNS.timestamp.test(value)
      ? null
      : `${described(value)} is not an RFC 3339 date-time such as 2025-08-21T14:42:23Z`,
  token_id: (value) => tokenIdProblem(value)?.message ?? null,
  model_name: nonBlank(PATTERNS.model_name),
  model_version: (value) =>
    typeof value === 'string' && PATTERNS.model_version.test(value)
      ? null
      : `must be the MLflow version as a string of 1 to 20 digits such as "4", ` +
        `got ${typeof value === 'number' ? `the number ${value}` : described(value)}`,
  mlflow_run_id: (value) =>
    value === null || (typeof value === 'string' && value !== '')
      ? null
      : `must be the MLflow run id (a non-empty string) or null, got ${described(value)}`,
  metric_name: nonBlank(PATTERNS.metric_name),
  baseline_value: (value) =>
    typeof value === 'number'
      ? null
      : `must be a JSON number such as 0.933, got ${described(value)}`,
  status: (value) =>
    typeof value === 'string' && PATTERNS.status.test(value)
      ? null
      : `must be "${STATUS_REGISTERED}" (any casing), got ${described(value)}`,
  tags: (value) => (isPlainObject(value) ? null : `must be an object, got ${jsonTypeName(value)}`),
};

const isScalar = (value) =>
  value === null || ['string', 'number', 'boolean'].includes(typeof value);

function tagViolations(tags) {
  if (!isPlainObject(tags)) return [];
  return Object.entries(tags)
    .filter(([, value]) => !isScalar(value))
    .map(([key, value]) => ({
      path: `$.tags.${key}`,
      message: `must be a string, number, boolean or null, got ${jsonTypeName(value)}`,
    }));
}

const LEAVE_OUT = '; leave it out when there is none';

function stringRule(value) {
  return typeof value === 'string' ? null : `must be a string${LEAVE_OUT}, got ${described(value)}`;
}

function objectRule(what) {
  return (value) => (isPlainObject(value) ? null : `${what}, got ${jsonTypeName(value)}`);
}

/** One checker per top-level field of a v2 body. */
const V2_FIELD_RULES = {
  event_type: FIELD_RULES.event_type,
  model: objectRule("must be an object holding the model's id, name and status"),
  timestamp: FIELD_RULES.timestamp,
  source: (value) => (value === SOURCE ? null : `must be "${SOURCE}", got ${described(value)}`),
};

/** One checker per field of a v2 body's `model`. */
const MODEL_FIELD_RULES = {
  id: (value) => tokenIdProblem(value)?.message ?? null,
  name: nonBlank(PATTERNS.model_name),
  status: (value) =>
    typeof value === 'string' && PATTERNS.status.test(value)
      ? null
      : `must be "${MODEL_STATUS}" (any casing), got ${described(value)}`,
  version: (value) =>
    typeof value === 'string' && PATTERNS.model_version.test(value)
      ? null
      : 'must be the MLflow version as a string of 1 to 20 digits such as "4"' +
        `${LEAVE_OUT}, got ${typeof value === 'number' ? `the number ${value}` : described(value)}`,
  run_id: (value) =>
    typeof value === 'string' && value !== ''
      ? null
      : `must be the MLflow run id (a non-empty string)${LEAVE_OUT}, got ${described(value)}`,
  user_id: stringRule,
  api_schema: (value) =>
    value === null || isPlainObject(value)
      ? null
      : 'must be an object with inputSchema and outputSchema, or null to clear the stored one, ' +
        `got ${jsonTypeName(value)}`,
  eval_spec: objectRule(`must be an object${LEAVE_OUT}`),
  scorer_ref: stringRule,
  primary_metric: stringRule,
  benchmark_spec_id: stringRule,
};

const mustBeString = (value) =>
  typeof value === 'string' ? null : `must be a string, got ${described(value)}`;

/** One checker per member of `model.api_schema`. */
const API_SCHEMA_RULES = {
  inputSchema: objectRule('must be a JSON Schema object'),
  outputSchema: objectRule('must be a JSON Schema object'),
  endpoint: mustBeString,
  method: mustBeString,
  errorCodes: (value) =>
    Array.isArray(value) || isPlainObject(value)
      ? null
      : `must be a list or an object, got ${jsonTypeName(value)}`,
};

const pathOf = (at) => ['$', ...at].join('.');

/**
 * The violations of one object against its required fields and field rules, each with `at`:
 * the path of the object a missing field was found missing in, or of the wrong field itself.
 */
function objectViolations(object, at, required, rules) {
  const missing = required
    .filter((field) => !Object.hasOwn(object, field))
    .map((field) => ({
      at,
      path: pathOf([...at, field]),
      message: `is missing; every ${at.length > 0 ? `${at.at(-1)} object` : EVENT_TYPE + ' event'} carries it`,
    }));
  const wrong = Object.entries(rules)
    .filter(([field]) => Object.hasOwn(object, field))
    .map(([field, rule]) => ({
      at: [...at, field],
      path: pathOf([...at, field]),
      message: rule(object[field]),
    }))
    .filter(({ message }) => message !== null);
  return [...missing, ...wrong];
}

/** Arrays of path parts in order, part by part, a path before the paths inside it. */
function byParts(left, right) {
  for (let index = 0; index < Math.min(left.at.length, right.at.length); index += 1) {
    if (left.at[index] !== right.at[index]) return left.at[index] < right.at[index] ? -1 : 1;
  }
  return left.at.length - right.at.length;
}

function v2Violations(payload) {
  const found = objectViolations(payload, [], V2_REQUIRED_FIELDS, V2_FIELD_RULES);
  const { model } = payload;
  if (isPlainObject(model)) {
    found.push(...objectViolations(model, ['model'], MODEL_REQUIRED_FIELDS, MODEL_FIELD_RULES));
    if (isPlainObject(model.api_schema)) {
      found.push(
        ...objectViolations(
          model.api_schema,
          ['model', 'api_schema'],
          API_SCHEMA_REQUIRED_FIELDS,
          API_SCHEMA_RULES,
        ),
      );
    }
  }
  return found.sort(byParts).map(({ path, message }) => ({ path, message }));
}

/** Rules JSON Schema cannot state: a real calendar date, a finite number. */
function semanticViolations(payload) {
  const violations = [];
  if (typeof payload.timestamp === 'string' && PATTERNS.timestamp.test(payload.timestamp)) {
    try {
      parseTimestamp(payload.timestamp);
    } catch (error) {
      violations.push({ path: '$.timestamp', message: error.message });
    }
  }
  if (payloadShape(payload) === Shape.V1 && isNonFinite(payload.baseline_value)) {
    violations.push({
      path: '$.baseline_value',
      message: 'must be a finite number representable as a 64-bit float',
    });
  }
  return violations;
}

const isNonFinite = (value) => typeof value === 'number' && !Number.isFinite(value);

function byPath(left, right) {
  return left.path < right.path ? -1 : left.path > right.path ? 1 : 0;
}

/**
 * Every way `payload` (already parsed) breaks the contract, as `{ path, message }` in a stable
 * order: missing fields first, then wrong fields by path, then calendar and number checks. The
 * body is judged as the website judges it: v1 when it has a top-level `token_id`, else v2.
 */
export function payloadViolations(payload) {
  if (!isPlainObject(payload)) {
    const message = `must be a JSON object (the model_registered event), got ${jsonTypeName(payload)}`;
    return [{ path: '$', message }];
  }
  const wrong =
    payloadShape(payload) === Shape.V1 ? v1Violations(payload) : v2Violations(payload);
  const reported = new Set(wrong.map(({ path }) => path));
  const semantic = semanticViolations(payload).filter(({ path }) => !reported.has(path));
  return [...wrong, ...semantic];
}

function v1Violations(payload) {
  const has = (field) => Object.hasOwn(payload, field);
  const missing = REQUIRED_FIELDS.filter((field) => !has(field)).map((field) => ({
    path: `$.${field}`,
    message: 'is missing; every model_registered event carries it',
  }));
  const wrong = Object.entries(FIELD_RULES)
    .filter(([field]) => has(field))
    .map(([field, rule]) => ({ path: `$.${field}`, message: rule(payload[field]) }))
    .filter(({ message }) => message !== null)
    .concat(tagViolations(payload.tags))
    .sort(byPath);
  return [...missing, ...wrong];
}

/**
 * Validate raw body bytes (parsed strictly first) or an already parsed payload; returns the
 * payload. Throws PayloadError listing every violation with its JSON path.
 */
export function validatePayload(payloadOrBody) {
  const isBytes =
    typeof payloadOrBody === 'string' ||
    payloadOrBody instanceof Uint8Array ||
    payloadOrBody instanceof ArrayBuffer;
  const payload = isBytes ? parseBody(payloadOrBody) : payloadOrBody;
  const violations = payloadViolations(payload);
  if (violations.length > 0) {
    throw new PayloadError(PayloadProblem.SCHEMA_VIOLATION, violations);
  }
  return payload;
}

/** The free-text fields of a v1 body a receiver stores. */
export const STORED_TEXT_FIELDS = Object.freeze(['model_name', 'metric_name', 'mlflow_run_id']);
/** The free-text fields of a v2 body's `model` a receiver stores. */
export const STORED_MODEL_TEXT_FIELDS = Object.freeze(['name', 'run_id', 'primary_metric']);

/** [JSON path, value] of each free-text field a receiver stores, for either shape. */
function storedText(payload) {
  if (payloadShape(payload) === Shape.V1) {
    return STORED_TEXT_FIELDS.map((name) => [`$.${name}`, payload[name]]);
  }
  const model = isPlainObject(payload.model) ? payload.model : {};
  return STORED_MODEL_TEXT_FIELDS.map((name) => [`$.model.${name}`, model[name]]);
}

/**
 * Stored text that is not Unicode: an unpaired `\udXXX` escape parses, but no UTF-8 database
 * column can hold it, so receivers refuse it as a schema violation.
 */
export function unstorableText(payload) {
  return storedText(payload)
    .filter(([, value]) => typeof value === 'string' && !value.isWellFormed())
    .map(([path, value]) => {
      const characters = Array.from(value);
      const position = characters.findIndex((character) => !character.isWellFormed());
      return {
        path,
        message:
          `has an unpaired surrogate ${JSON.stringify(characters[position])} at position ` +
          `${position}, which is not Unicode text; send valid UTF-8 text`,
      };
    });
}
