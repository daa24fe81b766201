// The one place text and binary inputs become the exact bytes that are signed or parsed.

import { jsonTypeName } from './tokens.js';

/** The UTF-8 bytes of `text`; refuses lone surrogates instead of turning them into U+FFFD. */
export function utf8(text, what) {
  if (!text.isWellFormed()) {
    throw new TypeError(
      `${what} contains a lone UTF-16 surrogate, which has no UTF-8 bytes; pass the raw bytes`,
    );
  }
  return Buffer.from(text, 'utf8');
}

/**
 * The exact bytes of a body. A string is taken as its UTF-8 bytes, which are the bytes that
 * travelled only if the body was decoded as UTF-8 without any change: prefer the raw bytes.
 */
export function bodyBytes(body, caller) {
  if (typeof body === 'string') return utf8(body, `${caller}() body`);
  if (body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  throw new TypeError(
    `${caller}() needs the raw body bytes (Buffer, Uint8Array, ArrayBuffer or the exact text), ` +
      `got ${jsonTypeName(body)}; read the request body as bytes before any JSON parsing and ` +
      'never pass a parsed object or its JSON.stringify',
  );
}
