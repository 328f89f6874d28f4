/**
 * HTTP requests for the remote backends (S3, rclone's WebDAV): a timeout on
 * each attempt, and retries with jittered exponential backoff on what is
 * worth retrying (network errors, timeouts, cut-short bodies, 408, 429 and
 * 5xx).
 *
 * Retries live here, at the request, rather than in a wrapper around
 * `Storage`: only the client knows a 503 from a 403 and which requests are
 * safe to repeat, and it re-signs each attempt (a SigV4 signature carries
 * its time). A Storage-level wrapper would have to retry blindly on every
 * error, including "access denied" and "no such object".
 *
 * @module
 */

import { type ByteRange, checkRange, type ObjectInfo, ObjectNotFoundError } from "./storage.ts";

/** What `retrying` needs to know. */
export interface RetryPolicy {
  /** Attempts after the first. */
  retries: number;
  /** The first backoff; each later one doubles, up to `maxDelayMs`, with full jitter. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** The time one attempt may take, plus `msPerMiB` for each MiB it moves. */
  timeoutMs: number;
  msPerMiB: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  retries: 6,
  baseDelayMs: 250,
  maxDelayMs: 20_000,
  timeoutMs: 30_000,
  // 1 s per MiB allows ~1 MiB/s links a 16 MiB pack: 46 s in all.
  msPerMiB: 1_000,
};

/** An HTTP answer that is an error; `retryable` for 408, 429 and 5xx. */
export class HttpStatusError extends Error {
  readonly status: number;
  /** The S3 error code (`NoSuchBucket`, `AccessDenied`...) when the body had one. */
  readonly code: string;

  constructor(status: number, code: string, detail: string) {
    super(`HTTP ${status}${code ? ` ${code}` : ""}${detail ? `: ${detail}` : ""}`);
    this.name = "HttpStatusError";
    this.status = status;
    this.code = code;
  }

  get retryable(): boolean {
    return this.status === 408 || this.status === 429 || this.status >= 500;
  }
}

/** The server sent fewer (or more) bytes than it announced: retry. */
export class TruncatedResponseError extends Error {
  constructor(expected: number, got: number) {
    super(`the server sent ${got} bytes instead of ${expected}`);
    this.name = "TruncatedResponseError";
  }
}

/** Gave up: every attempt failed, the last with `cause`. */
export class RemoteUnavailableError extends Error {
  constructor(action: string, attempts: number, cause: unknown) {
    super(
      `Cannot ${action}: ${describe(cause)} (after ${attempts} attempts; ` +
        `check the network and the server, then run the command again)`,
      { cause },
    );
    this.name = "RemoteUnavailableError";
  }
}

/** Whether an error is worth another attempt. */
export function isRetryable(error: unknown): boolean {
  if (error instanceof HttpStatusError) return error.retryable;
  if (error instanceof TruncatedResponseError) return true;
  if (error instanceof DOMException) {
    return error.name === "TimeoutError" || error.name === "AbortError";
  }
  // fetch rejects with TypeError on connection refused/reset and DNS failures.
  return error instanceof TypeError;
}

/** A short text for an error from fetch or this module. */
export function describe(error: unknown): string {
  if (error instanceof DOMException && error.name === "TimeoutError") return "timed out";
  if (error instanceof TypeError) {
    const cause = (error as { cause?: unknown }).cause;
    return cause instanceof Error ? cause.message : error.message;
  }
  return error instanceof Error ? error.message : String(error);
}

/**
 * Runs `attempt` until it succeeds, a non-retryable error comes, or the
 * retries run out. Each attempt gets a signal that aborts at its timeout.
 */
export async function retrying<T>(
  action: string,
  policy: RetryPolicy,
  bytes: number,
  attempt: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const timeout = policy.timeoutMs + Math.ceil(bytes / 1048576) * policy.msPerMiB;
  for (let n = 0;; n++) {
    try {
      return await attempt(AbortSignal.timeout(timeout));
    } catch (error) {
      if (!isRetryable(error)) throw error;
      if (n >= policy.retries) throw new RemoteUnavailableError(action, n + 1, error);
      const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** n);
      // Full jitter: many clients that failed together do not retry together.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * ceiling));
    }
  }
}

/** The whole body, checked against Content-Length when the server sent one. */
export async function readBody(response: Response, expected?: number): Promise<Uint8Array> {
  const bytes = new Uint8Array(await response.arrayBuffer());
  const announced = response.headers.get("content-length");
  const length = expected ?? (announced === null ? undefined : Number(announced));
  if (length !== undefined && bytes.length !== length) {
    throw new TruncatedResponseError(length, bytes.length);
  }
  return bytes;
}

/**
 * An object GET's answer as bytes (both remote backends): 404 is
 * ObjectNotFoundError, 416 a RangeError naming the object's real size, and
 * a server that ignored the Range header has the range cut out of the whole
 * object.
 */
export async function objectFromResponse(
  response: Response,
  o: {
    location: string;
    name: string;
    range: ByteRange | undefined;
    stat: () => Promise<ObjectInfo | null>;
  },
): Promise<Uint8Array> {
  const { name, range } = o;
  if (response.status === 404) {
    await response.body?.cancel();
    throw new ObjectNotFoundError(o.location, name);
  }
  if (response.status === 416) {
    await response.body?.cancel();
    const info = await o.stat();
    checkRange(name, info?.size ?? 0, range!);
    throw new RangeError(`Cannot read ${name}: the server refused the range`);
  }
  if (range && response.status === 200) {
    // The server ignored the Range header: cut the range out of the whole object.
    const whole = await readBody(response);
    checkRange(name, whole.length, range);
    return whole.slice(range.offset, range.offset + range.length);
  }
  if (range) {
    const total = /\/(\d+)$/.exec(response.headers.get("content-range") ?? "")?.[1];
    if (total !== undefined) checkRange(name, Number(total), range);
  }
  return await readBody(response, range?.length);
}

/** An object's size and time from the answer to a HEAD request; null for 404. */
export async function infoFromHead(response: Response, name: string): Promise<ObjectInfo | null> {
  await response.body?.cancel();
  if (response.status === 404) return null;
  return {
    name,
    size: Number(response.headers.get("content-length") ?? 0),
    modifiedMs: Date.parse(response.headers.get("last-modified") ?? "") || 0,
  };
}

/**
 * The headers of a GET for `range` of object `name`, after checking the
 * range. An empty range cannot be asked for in HTTP: then this checks that
 * the object exists and is long enough, and returns null (no request needed).
 */
export async function rangeHeaders(
  location: string,
  name: string,
  range: ByteRange | undefined,
  stat: () => Promise<ObjectInfo | null>,
): Promise<Record<string, string> | null> {
  if (!range) return {};
  checkRange(name, Number.MAX_SAFE_INTEGER, range);
  if (range.length === 0) {
    const info = await stat();
    if (!info) throw new ObjectNotFoundError(location, name);
    checkRange(name, info.size, range);
    return null;
  }
  return { range: `bytes=${range.offset}-${range.offset + range.length - 1}` };
}
