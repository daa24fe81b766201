// Signing and verification: the behaviour around the vectors (types, rotation, never throwing).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  FailureReason,
  SignatureError,
  explain,
  sign,
  verify,
  verifyOrThrow,
} from '../src/index.js';

const SECRET = "It's a Secret to Everybody";
const BODY = 'Hello, World!';
const GITHUB_HEADER = 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17';

test('sign writes the sha256= prefix and 64 lowercase hex digits', () => {
  const header = sign('{}', 'secret');
  assert.match(header, /^sha256=[0-9a-f]{64}$/);
});

test('a Buffer, a Uint8Array, an ArrayBuffer and the exact text sign alike', () => {
  const bytes = Buffer.from(BODY, 'utf8');
  const copy = new Uint8Array(bytes);
  for (const body of [BODY, bytes, copy, copy.buffer]) {
    assert.equal(sign(body, SECRET), GITHUB_HEADER);
    assert.equal(verify(body, GITHUB_HEADER, SECRET).ok, true);
  }
});

test('a parsed object is refused with a TypeError instead of being re-serialized', () => {
  for (const parsed of [{ token_id: 'LSCOR' }, ['x'], 42, null, undefined]) {
    assert.throws(() => sign(parsed, SECRET), { name: 'TypeError', message: /raw body bytes/ });
    assert.throws(() => verify(parsed, GITHUB_HEADER, SECRET), {
      name: 'TypeError',
      message: /raw body bytes.*never pass a parsed object/,
    });
  }
});

test('verifying JSON.stringify of the parsed body fails where the raw bytes pass', () => {
  const raw = Buffer.from('{"token_id": "LSCOR", "baseline_value": 1.0}');
  const header = sign(raw, SECRET);
  assert.equal(verify(raw, header, SECRET).ok, true);
  const reserialized = JSON.stringify(JSON.parse(raw.toString('utf8')));
  assert.equal(verify(reserialized, header, SECRET).reason, FailureReason.MISMATCH);
});

test('a string with a lone surrogate is refused rather than signed as U+FFFD', () => {
  assert.throws(() => sign('{"a":"\ud800"}', SECRET), { name: 'TypeError', message: /surrogate/ });
  assert.throws(() => verify('x', GITHUB_HEADER, 'bad\udfff'), { message: /the secret contains/ });
});

test('sign refuses an empty secret', () => {
  assert.throws(() => sign(BODY, ''), { name: 'RangeError', message: /empty secret/ });
});

test('a secret of the wrong type is a TypeError that does not echo it', () => {
  assert.throws(
    () => verify(BODY, GITHUB_HEADER, [{ value: 'hidden-value' }]),
    (error) => {
      assert.equal(error.name, 'TypeError');
      assert.match(error.message, /must be a string or bytes, got object/);
      assert.doesNotMatch(error.message, /hidden-value/);
      return true;
    },
  );
});

test('no secret is reported before the header is looked at', () => {
  for (const nothing of [null, undefined, '', Buffer.alloc(0), [], ['', Buffer.alloc(0), null]]) {
    assert.equal(verify(BODY, null, nothing).reason, FailureReason.NO_SECRET_CONFIGURED);
    assert.equal(verify(BODY, 'junk', nothing).reason, FailureReason.NO_SECRET_CONFIGURED);
  }
});

test('any secret of a rotation verifies and the result names which one', () => {
  const header = sign(BODY, 'new');
  assert.deepEqual(verify(BODY, header, ['old', 'new']), {
    ok: true,
    reason: null,
    secretIndex: 1,
  });
  assert.equal(verify(BODY, header, new Set(['new'])).secretIndex, 0);
  assert.equal(verify(BODY, header, [Buffer.from('new')]).secretIndex, 0);
  assert.equal(verify(BODY, header, ['new', 'new']).secretIndex, 0);
  assert.equal(verify(BODY, header, ['new', undefined]).secretIndex, 0, 'an unset rotation slot');
  assert.equal(verify(BODY, header, [undefined, 'new']).secretIndex, 1, 'counted, not renumbered');
  assert.deepEqual(verify(BODY, header, ['old']), {
    ok: false,
    reason: FailureReason.MISMATCH,
    secretIndex: null,
  });
});

test('headers that are not strings never throw and read as malformed', () => {
  for (const header of [42, true, {}, ['sha256=' + '0'.repeat(64)], Symbol('x'), 10n]) {
    assert.equal(verify(BODY, header, SECRET).reason, FailureReason.MALFORMED_HEADER);
  }
});

test('a header of only spaces and tabs counts as missing; other whitespace is malformed', () => {
  assert.equal(verify(BODY, undefined, SECRET).reason, FailureReason.MISSING_HEADER);
  assert.equal(verify(BODY, ' \t ', SECRET).reason, FailureReason.MISSING_HEADER);
  assert.equal(verify(BODY, `${GITHUB_HEADER}\n`, SECRET).reason, FailureReason.MALFORMED_HEADER);
  const spaced = `sha256=${GITHUB_HEADER.slice(7, 39)} ${GITHUB_HEADER.slice(40)}`;
  assert.equal(verify(BODY, spaced, SECRET).reason, FailureReason.MALFORMED_HEADER);
});

test('the signature is bound to the prefix: a bare digest or another name is malformed', () => {
  for (const header of [GITHUB_HEADER.slice(7), `v1,${GITHUB_HEADER.slice(7)}`, 'sha256=']) {
    assert.equal(verify(BODY, header, SECRET).reason, FailureReason.MALFORMED_HEADER);
  }
});

test('verifyOrThrow throws a SignatureError carrying the reason and its explanation', () => {
  assert.equal(verifyOrThrow(BODY, GITHUB_HEADER, SECRET).secretIndex, 0);
  assert.throws(
    () => verifyOrThrow(BODY, GITHUB_HEADER, `${SECRET}\n`),
    (error) => {
      assert.ok(error instanceof SignatureError);
      assert.equal(error.reason, FailureReason.MISMATCH);
      assert.equal(error.message, explain(FailureReason.MISMATCH));
      return true;
    },
  );
});

test('every failure reason is explained in words that say what to do', () => {
  for (const reason of Object.values(FailureReason)) {
    assert.match(explain(reason), /;/);
  }
  assert.throws(() => explain('nonsense'), TypeError);
});
