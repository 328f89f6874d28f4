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

/**
 * No index entry names the blob asked for (nor, where the repository looked,
 * any pack header): a mistyped id, or a lost index file and pack.
 */
export class BlobNotFoundError extends FormatError {
  constructor(type: string, id: string) {
    super(`Cannot read ${type} blob ${id.slice(0, 16)}: no index entry`);
    this.name = "BlobNotFoundError";
  }
}

/**
 * An object or repository of a newer format version than this Cofre knows
 * (FORMAT.md §3). A kind of FormatError: code that only asks "is this
 * well-formed?" treats it as one.
 */
export class UnsupportedVersionError extends FormatError {
  constructor(message: string) {
    super(message);
    this.name = "UnsupportedVersionError";
  }
}

/**
 * No key slot opened: the password, the recovery key or the account is wrong.
 * FORMAT.md §5.3: one message for every cause, because the repository cannot
 * tell them apart and must not help an attacker try.
 */
export class WrongKeyError extends Error {
  constructor() {
    super("Cannot open the repository: wrong password, recovery key or account");
    this.name = "WrongKeyError";
  }
}

/** There is no repository at the location given. */
export class RepositoryNotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RepositoryNotFoundError";
  }
}

/**
 * The repository is there but lacks what every command needs to open it
 * (its config). Not a FormatError: `check` cannot open it either.
 */
export class RepositoryDamagedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RepositoryDamagedError";
  }
}

/** Another process holds the repository's exclusive lock (FORMAT.md §14). */
export class RepositoryLockedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RepositoryLockedError";
  }
}

/**
 * Something in a restore's target stands where the snapshot puts something
 * else, and is not Cofre's to remove (a folder where a file goes).
 */
export class RestoreConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RestoreConflictError";
  }
}
