/**
 * The S3 backend: a repository in a bucket (and optional key prefix) of AWS
 * S3 or any S3-compatible server (MinIO, Ceph RGW, Backblaze B2, Wasabi).
 * Requests are signed with SigV4 by aws4fetch and sent with fetch, each with
 * a timeout and retries (./_http.ts).
 *
 * Immutability (FORMAT.md §4, storage.ts): every PUT carries
 * `If-None-Match: *`, so a server that supports conditional writes (AWS
 * since 2024, MinIO, recent Ceph) refuses atomically to replace an object.
 * Servers that ignore the header would overwrite, so for custom endpoints
 * the backend also asks first (HEAD, then PUT): that leaves a window in
 * which two writers of the same name race, which Cofre's content-addressed
 * names make harmless (both write the same bytes) except for a deliberate
 * attacker. `conditionalWrites: true` (the default on AWS,
 * COFRE_S3_CONDITIONAL_WRITES=1) skips the HEAD.
 *
 * @module
 */

import { AwsClient } from "aws4fetch";
import { concatBytes } from "../_bytes.ts";
import { type AwsEnvironment, processAwsEnvironment, resolveAwsConfig } from "./_aws_config.ts";
import {
  DEFAULT_RETRY_POLICY,
  HttpStatusError,
  infoFromHead,
  objectFromResponse,
  rangeHeaders,
  readBody,
  RemoteUnavailableError,
  retrying,
  type RetryPolicy,
} from "./_http.ts";
import {
  type ByteRange,
  checkObjectName,
  isObjectName,
  type ObjectInfo,
  objectParts,
  requireSameObject,
  type Storage,
} from "./storage.ts";

/** Objects larger than this go up in parts (packs are ~16 MiB: one PUT each). */
export const MULTIPART_THRESHOLD = 64 * 1048576;
/** The size of each part of a multipart upload (S3's minimum is 5 MiB). */
export const MULTIPART_PART_BYTES = 16 * 1048576;

export interface S3Options {
  /** `https://host[:port]` for S3-compatible servers; undefined for AWS. */
  endpoint?: string;
  bucket: string;
  /** Key prefix without slashes at either end; "" for the bucket's root. */
  prefix: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  /** `path`: host/bucket/key (default for custom endpoints); `virtual`: bucket.host/key (AWS). */
  addressing?: "path" | "virtual";
  /** Trust `If-None-Match: *` alone, without a HEAD before each PUT. */
  conditionalWrites?: boolean;
  retry?: Partial<RetryPolicy>;
  multipartThreshold?: number;
  partBytes?: number;
  /** Keys per list request (S3's maximum and default is 1000). */
  listPageSize?: number;
  /** For messages; defaults to the `s3:` location. */
  location?: string;
}

/** The bucket is missing, access is denied, the credentials are wrong... */
export class S3Error extends Error {
  readonly status: number;
  readonly code: string;
  constructor(action: string, reason: string, status: number, code: string) {
    super(`Cannot ${action}: ${reason}`);
    this.name = "S3Error";
    this.status = status;
    this.code = code;
  }
}

/** A location `s3:...` that does not parse. */
export class S3LocationError extends RangeError {
  constructor(location: string, reason: string) {
    super(
      `Cannot use ${location}: ${reason} (expected s3:https://host[:port]/bucket[/prefix] ` +
        `or s3:bucket[/prefix] with AWS_REGION)`,
    );
    this.name = "S3LocationError";
  }
}

/** The parts of an `s3:` location. */
export function parseS3Location(
  location: string,
): { endpoint?: string; bucket: string; prefix: string } {
  const rest = location.replace(/^s3:/, "");
  let endpoint: string | undefined;
  let path = rest;
  if (/^https?:\/\//.test(rest)) {
    let url: URL;
    try {
      url = new URL(rest);
    } catch {
      throw new S3LocationError(location, "not a valid URL");
    }
    if (url.search || url.hash || url.username) {
      throw new S3LocationError(location, "the URL has a query, fragment or user name");
    }
    endpoint = url.origin;
    path = decodeURIComponent(url.pathname);
  }
  const segments = path.split("/").filter((s) => s !== "");
  const bucket = segments.shift();
  if (!bucket || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new S3LocationError(location, `"${bucket ?? ""}" is not a valid bucket name`);
  }
  return { endpoint, bucket, prefix: segments.join("/") };
}

/** An S3Storage for a location, with credentials and region from the environment. */
export async function openS3Storage(
  location: string,
  environment: AwsEnvironment = processAwsEnvironment(),
): Promise<S3Storage> {
  const { endpoint, bucket, prefix } = parseS3Location(location);
  const { credentials, region } = await resolveAwsConfig(environment);
  if (!endpoint && !region) {
    throw new S3LocationError(location, "AWS needs a region: set AWS_REGION");
  }
  const addressing = environment.env("COFRE_S3_ADDRESSING");
  if (addressing !== undefined && addressing !== "path" && addressing !== "virtual") {
    throw new RangeError(
      `Cannot use COFRE_S3_ADDRESSING=${addressing}: expected "path" or "virtual"`,
    );
  }
  const conditional = environment.env("COFRE_S3_CONDITIONAL_WRITES");
  return new S3Storage({
    endpoint,
    bucket,
    prefix,
    // Custom servers mostly ignore the region but sign with it: us-east-1 is their default.
    region: region ?? "us-east-1",
    ...credentials,
    addressing,
    conditionalWrites: conditional === undefined ? undefined : conditional === "1",
    location,
  });
}

export class S3Storage implements Storage {
  readonly location: string;
  readonly #client: AwsClient;
  readonly #base: string;
  readonly #bucket: string;
  readonly #prefix: string;
  readonly #policy: RetryPolicy;
  readonly #headFirst: boolean;
  readonly #multipartThreshold: number;
  readonly #partBytes: number;
  readonly #listPageSize: number;
  /** False once the server answered a conditional PUT with 501 Not Implemented. */
  #sendConditional = true;
  /** The first request checks the bucket, so its errors say what is wrong. */
  #bucketChecked: Promise<void> | undefined;

  constructor(options: S3Options) {
    const aws = options.endpoint === undefined;
    const endpoint = options.endpoint ?? `https://s3.${options.region}.amazonaws.com`;
    const addressing = options.addressing ?? (aws ? "virtual" : "path");
    const url = new URL(endpoint);
    this.#base = addressing === "virtual"
      ? `${url.protocol}//${options.bucket}.${url.host}/`
      : `${url.origin}/${encodeURIComponent(options.bucket)}/`;
    this.#bucket = options.bucket;
    this.#prefix = options.prefix ? options.prefix.replace(/^\/+|\/+$/g, "") + "/" : "";
    this.location = options.location ??
      `s3:${options.endpoint ? options.endpoint + "/" : ""}${options.bucket}${
        this.#prefix ? "/" + this.#prefix.slice(0, -1) : ""
      }`;
    this.#client = new AwsClient({
      accessKeyId: options.accessKeyId,
      secretAccessKey: options.secretAccessKey,
      sessionToken: options.sessionToken,
      service: "s3",
      region: options.region,
    });
    this.#policy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    this.#headFirst = !(options.conditionalWrites ?? aws);
    this.#multipartThreshold = options.multipartThreshold ?? MULTIPART_THRESHOLD;
    this.#partBytes = Math.max(options.partBytes ?? MULTIPART_PART_BYTES, 5 * 1048576);
    this.#listPageSize = options.listPageSize ?? 1000;
  }

  /** The URL of a key (already prefixed), with an optional query. */
  #url(key: string, query?: Record<string, string>): string {
    const path = key.split("/").map(encodeURIComponent).join("/");
    const search = query ? "?" + new URLSearchParams(query).toString() : "";
    return this.#base + path + search;
  }

  /**
   * Signs and sends one request with retries; `handle` reads the answer
   * (inside the retry, so a cut-short body is retried too). Error answers
   * become HttpStatusError before `handle` sees them, unless `accept` lists
   * their status.
   */
  async #request<T>(
    action: string,
    request: {
      method: string;
      url: string;
      headers?: Record<string, string>;
      body?: Uint8Array;
      accept?: number[];
    },
    handle: (response: Response) => Promise<T>,
  ): Promise<T> {
    try {
      return await retrying(action, this.#policy, request.body?.length ?? 0, async (signal) => {
        const signed = await this.#client.sign(request.url, {
          method: request.method,
          headers: request.headers,
          body: request.body as BodyInit | undefined,
        });
        const response = await fetch(signed, { signal });
        if (!response.ok && !request.accept?.includes(response.status)) {
          throw await statusError(response);
        }
        return await handle(response);
      });
    } catch (error) {
      throw this.#explain(action, error);
    }
  }

  /** A one-line error for what the server refused. */
  #explain(action: string, error: unknown): unknown {
    if (!(error instanceof HttpStatusError)) return error;
    const { status, code } = error;
    const reasons: Record<string, string> = {
      NoSuchBucket: `bucket "${this.#bucket}" does not exist: create it first`,
      InvalidAccessKeyId:
        "the server does not know this access key: check AWS_ACCESS_KEY_ID or the profile",
      SignatureDoesNotMatch:
        "the secret key is wrong (signature does not match): check AWS_SECRET_ACCESS_KEY or the profile",
      ExpiredToken: "the session token has expired: renew AWS_SESSION_TOKEN",
      InvalidToken: "the session token is not valid: check AWS_SESSION_TOKEN",
      AccessDenied:
        `access denied: these credentials may not use bucket "${this.#bucket}" (check its policy)`,
      AuthorizationHeaderMalformed: "the bucket is in another region: set AWS_REGION to its region",
      PermanentRedirect:
        "the bucket is in another region or needs another endpoint: set AWS_REGION",
    };
    const reason = reasons[code] ??
      (status === 403
        ? `access denied (HTTP 403${
          code ? " " + code : ""
        }): check the credentials and the bucket policy`
        : status === 301
        ? "the bucket is in another region: set AWS_REGION to its region"
        : error.message);
    return new S3Error(action, `${reason} (${this.location})`, status, code);
  }

  /** Checks once that the bucket answers, so errors name the cause, not a missing object. */
  #checkBucket(): Promise<void> {
    this.#bucketChecked ??= this.#request(
      `open bucket "${this.#bucket}"`,
      {
        method: "GET",
        url: this.#url("", { "list-type": "2", "max-keys": "1", prefix: this.#prefix }),
      },
      async (response) => void await response.arrayBuffer(),
    ).catch((error) => {
      this.#bucketChecked = undefined; // a later call tries again
      throw error;
    });
    return this.#bucketChecked;
  }

  #key(name: string): string {
    checkObjectName(name);
    return this.#prefix + name;
  }

  async stat(name: string): Promise<ObjectInfo | null> {
    const key = this.#key(name);
    await this.#checkBucket();
    return await this.#request(
      `read ${name} in ${this.location}`,
      { method: "HEAD", url: this.#url(key), accept: [404] },
      (response) => infoFromHead(response, name),
    );
  }

  async get(name: string, range?: ByteRange): Promise<Uint8Array> {
    const key = this.#key(name);
    await this.#checkBucket();
    const headers = await rangeHeaders(this.location, name, range, () => this.stat(name));
    if (headers === null) return new Uint8Array(0);
    return await this.#request(
      `read ${name} in ${this.location}`,
      { method: "GET", url: this.#url(key), headers, accept: [404, 416] },
      (response) =>
        objectFromResponse(response, {
          location: this.location,
          name,
          range,
          stat: () => this.stat(name),
        }),
    );
  }

  async put(name: string, bytes: Uint8Array | readonly Uint8Array[]): Promise<void> {
    const key = this.#key(name);
    const parts = objectParts(bytes);
    await this.#checkBucket();
    if (this.#headFirst && (await this.stat(name))) {
      return requireSameObject(this.location, name, await this.get(name), parts);
    }
    const body = parts.length === 1 ? parts[0]! : concatBytes(...parts);
    const created = body.length > this.#multipartThreshold
      ? await this.#putMultipart(name, key, body)
      : await this.#putSingle(name, key, body);
    if (!created) requireSameObject(this.location, name, await this.get(name), parts);
  }

  #conditionalHeaders(): Record<string, string> {
    return this.#sendConditional ? { "if-none-match": "*" } : {};
  }

  /** Whether the server refused the conditional header itself (then go on without it). */
  #refusedConditional(error: unknown): boolean {
    if (
      this.#sendConditional && error instanceof S3Error &&
      (error.status === 501 || error.code === "NotImplemented")
    ) {
      this.#sendConditional = false;
      return true;
    }
    return false;
  }

  /** One PUT; false when an object with that name exists already (412). */
  async #putSingle(name: string, key: string, body: Uint8Array): Promise<boolean> {
    const action = `write ${name} in ${this.location}`;
    try {
      return await this.#request(
        action,
        {
          method: "PUT",
          url: this.#url(key),
          headers: { ...this.#conditionalHeaders(), "content-type": "application/octet-stream" },
          body,
          // 409: a concurrent conditional write of the same key is in progress (AWS).
          accept: [412, 409],
        },
        async (response) => {
          await response.body?.cancel();
          if (response.status === 409) {
            throw new HttpStatusError(503, "ConditionalRequestConflict", "");
          }
          return response.status !== 412;
        },
      );
    } catch (error) {
      if (this.#refusedConditional(error)) return await this.#putSingle(name, key, body);
      throw error;
    }
  }

  /** A multipart upload, completed conditionally; false when the name exists (412). */
  async #putMultipart(name: string, key: string, body: Uint8Array): Promise<boolean> {
    const action = `write ${name} in ${this.location}`;
    const uploadId = await this.#request(
      action,
      { method: "POST", url: this.#url(key, { uploads: "" }) },
      async (response) => {
        const text = new TextDecoder().decode(await readBody(response));
        const id = xmlValues(text, "UploadId")[0];
        if (!id) throw new Error(`Cannot ${action}: the server sent no UploadId`);
        return id;
      },
    );
    try {
      const etags: string[] = [];
      for (let at = 0, n = 1; at < body.length; at += this.#partBytes, n++) {
        const part = body.subarray(at, Math.min(body.length, at + this.#partBytes));
        etags.push(
          await this.#request(
            action,
            {
              method: "PUT",
              url: this.#url(key, { partNumber: String(n), uploadId }),
              body: part,
            },
            async (response) => {
              await response.body?.cancel();
              const etag = response.headers.get("etag");
              if (!etag) throw new Error(`Cannot ${action}: the server sent no ETag for part ${n}`);
              return etag;
            },
          ),
        );
      }
      const xml = "<CompleteMultipartUpload>" +
        etags.map((etag, i) =>
          `<Part><PartNumber>${i + 1}</PartNumber><ETag>${escapeXml(etag)}</ETag></Part>`
        ).join("") + "</CompleteMultipartUpload>";
      const created = await this.#request(
        action,
        {
          method: "POST",
          url: this.#url(key, { uploadId }),
          headers: this.#conditionalHeaders(),
          body: new TextEncoder().encode(xml),
          accept: [412],
        },
        async (response) => {
          const text = new TextDecoder().decode(await readBody(response));
          if (response.status === 412) return false;
          // CompleteMultipartUpload may answer 200 with an error in the body.
          const code = xmlValues(text, "Code")[0];
          if (/<Error>/.test(text) && code) {
            throw new HttpStatusError(code === "InternalError" ? 500 : 400, code, "");
          }
          return true;
        },
      );
      if (!created) await this.#abort(key, uploadId);
      return created;
    } catch (error) {
      await this.#abort(key, uploadId).catch(() => {});
      if (this.#refusedConditional(error)) return await this.#putMultipart(name, key, body);
      throw error;
    }
  }

  async #abort(key: string, uploadId: string): Promise<void> {
    await this.#request(
      `abort an upload in ${this.location}`,
      { method: "DELETE", url: this.#url(key, { uploadId }), accept: [404] },
      async (response) => void await response.body?.cancel(),
    );
  }

  async delete(name: string): Promise<void> {
    const key = this.#key(name);
    await this.#checkBucket();
    await this.#request(
      `delete ${name} in ${this.location}`,
      { method: "DELETE", url: this.#url(key), accept: [404] },
      async (response) => void await response.body?.cancel(),
    );
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    await this.#checkBucket();
    let token: string | undefined;
    do {
      const query: Record<string, string> = {
        "list-type": "2",
        prefix: this.#prefix + prefix,
        "max-keys": String(this.#listPageSize),
      };
      if (token) query["continuation-token"] = token;
      const page = await this.#request(
        `list ${this.location}`,
        { method: "GET", url: this.#url("", query) },
        async (response) => new TextDecoder().decode(await readBody(response)),
      );
      for (const contents of xmlElements(page, "Contents")) {
        const key = xmlValues(contents, "Key")[0] ?? "";
        const name = key.slice(this.#prefix.length);
        // Keys that are not object names (a folder marker, someone's notes) are not Cofre's.
        if (!key.startsWith(this.#prefix) || !isObjectName(name)) continue;
        yield {
          name,
          size: Number(xmlValues(contents, "Size")[0] ?? 0),
          modifiedMs: Date.parse(xmlValues(contents, "LastModified")[0] ?? "") || 0,
        };
      }
      const truncated = xmlValues(page, "IsTruncated")[0] === "true";
      token = truncated ? xmlValues(page, "NextContinuationToken")[0] : undefined;
      if (truncated && !token) {
        throw new RemoteUnavailableError(
          `list ${this.location}`,
          1,
          new Error("the server cut the list short without a continuation token"),
        );
      }
    } while (token);
  }
}

/** An HttpStatusError carrying the S3 error code from the body, when there is one. */
async function statusError(response: Response): Promise<HttpStatusError> {
  let text = "";
  try {
    text = await response.text();
  } catch {
    // The body is only for the message.
  }
  const code = xmlValues(text, "Code")[0] ?? "";
  const message = xmlValues(text, "Message")[0] ?? response.statusText;
  return new HttpStatusError(response.status, code, message);
}

/** The text of each `<tag>` element (S3's answers are flat, simple XML). */
export function xmlValues(xml: string, tag: string): string[] {
  return xmlElements(xml, tag).map(unescapeXml);
}

function xmlElements(xml: string, tag: string): string[] {
  const out: string[] = [];
  const pattern = new RegExp(`<${tag}(?:\\s[^>]*)?>([\\s\\S]*?)</${tag}>`, "g");
  for (const match of xml.matchAll(pattern)) out.push(match[1]!);
  return out;
}

function unescapeXml(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos);/gi, (_, entity: string) => {
    if (entity[0] === "#") {
      const code = entity[1] === "x" || entity[1] === "X"
        ? parseInt(entity.slice(2), 16)
        : parseInt(entity.slice(1), 10);
      return String.fromCodePoint(code);
    }
    return { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" }[entity.toLowerCase()]!;
  });
}

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
}
