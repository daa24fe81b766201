// The one error type a refused delivery throws, whichever check refused it.

/**
 * A delivery was refused; `reason` is its stable, language-neutral code: a FailureReason from
 * the signature (SignatureError) or a PayloadProblem from the body (PayloadError).
 */
export class ReceiveError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ReceiveError';
  }
}
