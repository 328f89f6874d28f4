/**
 * The errors Cofre throws on purpose. Each class means one thing (STYLE.md),
 * so callers, and the CLI's exit codes, can tell them apart by class alone.
 *
 * @module
 */

/**
 * Sealed data did not authenticate: wrong key, wrong nonce or associated
 * data, or bytes changed. The message is the same for every cause, on
 * purpose: it tells an attacker nothing about which check failed.
 */
export class AuthenticationError extends Error {
  constructor(message = "Cannot open sealed data: authentication failed") {
    super(message);
    this.name = "AuthenticationError";
  }
}

/**
 * Bytes that do not follow the format they claim (FORMAT.md). Messages are
 * detailed: "Cannot decode pack header: 3 bytes, expected at least 8".
 */
export class FormatError extends SyntaxError {
  constructor(message: string) {
    super(message);
    this.name = "FormatError";
  }
}
