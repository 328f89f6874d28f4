/**
 * The rclone backend: a repository on any rclone remote (Google Drive,
 * OneDrive, Dropbox, iCloud Drive, SFTP...), `rclone:remote:path`. Cofre
 * starts the real `rclone serve webdav` on a loopback port with random
 * credentials, talks WebDAV to it (retries and timeouts: ./_http.ts), and
 * stops it on `close()`.
 *
 * Immutability (FORMAT.md §4): an object is uploaded under a temporary
 * name (`.tmp-…`, which `list` never reports) and then renamed with a
 * WebDAV MOVE carrying `Overwrite: F`, so an existing object is never
 * replaced and a cut-off upload never leaves a half object under its real
 * name. How atomic the rename is depends on the remote (a local folder or
 * Google Drive rename in one step).
 *
 * @module
 */

import { concatBytes, toHex } from "../_bytes.ts";
import {
  DEFAULT_RETRY_POLICY,
  HttpStatusError,
  infoFromHead,
  objectFromResponse,
  rangeHeaders,
  readBody,
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

export const RCLONE_INSTALL_HINT =
  "install rclone: https://rclone.org/install/ or apt-get install rclone";

/** The rclone binary is not installed (or not on PATH). */
export class RcloneMissingError extends Error {
  constructor(location: string) {
    super(`Cannot use ${location}: rclone is not installed (${RCLONE_INSTALL_HINT})`);
    this.name = "RcloneMissingError";
  }
}

/** rclone would not start or serve the remote. */
export class RcloneError extends Error {
  constructor(action: string, reason: string) {
    super(`Cannot ${action}: ${reason}`);
    this.name = "RcloneError";
  }
}

export interface RcloneOptions {
  /** The rclone binary; `rclone` on PATH by default. */
  binary?: string;
  retry?: Partial<RetryPolicy>;
  /** How long rclone may take to start serving. */
  startTimeoutMs?: number;
}

/** The remote of an `rclone:` location (`rclone:gdrive:backups` → `gdrive:backups`). */
export function parseRcloneLocation(location: string): string {
  const remote = location.replace(/^rclone:/, "");
  if (remote === "") {
    throw new RangeError(
      `Cannot use ${location}: name a remote and path, as in rclone:gdrive:backups`,
    );
  }
  return remote;
}

/** Starts `rclone serve webdav` for the location and returns the storage on it. */
export async function openRcloneStorage(
  location: string,
  options: RcloneOptions = {},
): Promise<RcloneStorage> {
  const remote = parseRcloneLocation(location);
  const binary = options.binary ?? "rclone";
  const user = toHex(crypto.getRandomValues(new Uint8Array(8)));
  const pass = toHex(crypto.getRandomValues(new Uint8Array(16)));
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(binary, {
      args: [
        "serve",
        "webdav",
        remote,
        "--addr",
        "127.0.0.1:0",
        // Others may write to the remote too: do not trust a listing for long.
        "--dir-cache-time",
        "5s",
      ],
      // The credentials go by environment, not argv, where `ps` would show them.
      env: { RCLONE_USER: user, RCLONE_PASS: pass },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw new RcloneMissingError(location);
    throw error;
  }
  const url = await serverUrl(child, location, options.startTimeoutMs ?? 30_000);
  return new RcloneStorage({ location, url, user, pass, child, retry: options.retry });
}

/** Reads rclone's log until it says where it serves; fails with its last error line. */
async function serverUrl(
  child: Deno.ChildProcess,
  location: string,
  timeoutMs: number,
): Promise<string> {
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let log = "";
  const timer = setTimeout(() => child.kill("SIGTERM"), timeoutMs);
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      log += value;
      const url = /started on \[?(http:\/\/127\.0\.0\.1:\d+)\/?\]?/.exec(log)?.[1];
      if (url) {
        // Keep draining rclone's log so it never blocks on a full pipe.
        (async () => {
          try {
            while (!(await reader.read()).done) { /* discard */ }
          } catch { /* rclone stopped */ }
        })();
        return url;
      }
    }
  } finally {
    clearTimeout(timer);
  }
  await child.status;
  const lines = log.split("\n").filter((l) => /ERROR|Failed|error/i.test(l));
  const last = (lines.at(-1) ?? log.trim().split("\n").at(-1) ?? "rclone exited")
    .replace(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d /, "");
  throw new RcloneError(`serve ${location} with rclone`, `${last} (check it with 'rclone lsd')`);
}

export class RcloneStorage implements Storage {
  readonly location: string;
  readonly #url: string;
  readonly #auth: string;
  readonly #child: Deno.ChildProcess | undefined;
  readonly #policy: RetryPolicy;
  /** Folders known to exist, so each is created once. */
  readonly #folders = new Set<string>([""]);
  #closed = false;

  constructor(options: {
    location: string;
    url: string;
    user: string;
    pass: string;
    child?: Deno.ChildProcess;
    retry?: Partial<RetryPolicy>;
  }) {
    this.location = options.location;
    this.#url = options.url.replace(/\/$/, "");
    this.#auth = "Basic " + btoa(`${options.user}:${options.pass}`);
    this.#child = options.child;
    this.#policy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
  }

  #href(path: string): string {
    return this.#url + "/" + path.split("/").map(encodeURIComponent).join("/");
  }

  async #request<T>(
    action: string,
    request: {
      method: string;
      path: string;
      headers?: Record<string, string>;
      body?: Uint8Array;
      accept?: number[];
    },
    handle: (response: Response) => Promise<T>,
  ): Promise<T> {
    if (this.#closed) throw new TypeError(`Cannot ${action}: the storage was closed`);
    try {
      return await retrying(action, this.#policy, request.body?.length ?? 0, async (signal) => {
        const response = await fetch(this.#href(request.path), {
          method: request.method,
          headers: { authorization: this.#auth, ...request.headers },
          body: request.body as BodyInit | undefined,
          signal,
        });
        if (!response.ok && !request.accept?.includes(response.status)) {
          const text = (await response.text().catch(() => "")).trim().slice(0, 200);
          throw new HttpStatusError(response.status, "", text);
        }
        return await handle(response);
      });
    } catch (error) {
      if (error instanceof HttpStatusError) {
        throw new RcloneError(action, `rclone answered ${error.message} (${this.location})`);
      }
      throw error;
    }
  }

  async stat(name: string): Promise<ObjectInfo | null> {
    checkObjectName(name);
    return await this.#request(
      `read ${name} in ${this.location}`,
      { method: "HEAD", path: name, accept: [404] },
      (response) => infoFromHead(response, name),
    );
  }

  async get(name: string, range?: ByteRange): Promise<Uint8Array> {
    checkObjectName(name);
    const headers = await rangeHeaders(this.location, name, range, () => this.stat(name));
    if (headers === null) return new Uint8Array(0);
    return await this.#request(
      `read ${name} in ${this.location}`,
      { method: "GET", path: name, headers, accept: [404, 416] },
      (response) =>
        objectFromResponse(response, {
          location: this.location,
          name,
          range,
          stat: () => this.stat(name),
        }),
    );
  }

  /** Creates the folders above `name`, outermost first (WebDAV PUT does not). */
  async #makeFolders(name: string): Promise<void> {
    const segments = name.split("/").slice(0, -1);
    for (let i = 1; i <= segments.length; i++) {
      const folder = segments.slice(0, i).join("/");
      if (this.#folders.has(folder)) continue;
      await this.#request(
        `create folder ${folder} in ${this.location}`,
        // 405: it exists already.
        { method: "MKCOL", path: folder, accept: [405] },
        async (response) => void await response.body?.cancel(),
      );
      this.#folders.add(folder);
    }
  }

  async put(name: string, bytes: Uint8Array | readonly Uint8Array[]): Promise<void> {
    checkObjectName(name);
    const parts = objectParts(bytes);
    if (await this.stat(name)) {
      return requireSameObject(this.location, name, await this.get(name), parts);
    }
    await this.#makeFolders(name);
    const slash = name.lastIndexOf("/");
    const temp = name.slice(0, slash + 1) + ".tmp-" +
      toHex(crypto.getRandomValues(new Uint8Array(8)));
    const body = parts.length === 1 ? parts[0]! : concatBytes(...parts);
    const action = `write ${name} in ${this.location}`;
    await this.#request(
      action,
      { method: "PUT", path: temp, body, headers: { "content-type": "application/octet-stream" } },
      async (response) => void await response.body?.cancel(),
    );
    let moved: boolean;
    try {
      moved = await this.#request(
        action,
        {
          method: "MOVE",
          path: temp,
          headers: { destination: this.#href(name), overwrite: "F" },
          // 404: a retried MOVE whose first attempt went through.
          accept: [412, 404],
        },
        async (response) => {
          await response.body?.cancel();
          return response.status !== 412;
        },
      );
    } catch (error) {
      await this.#deleteQuietly(temp);
      throw error;
    }
    if (!moved) {
      await this.#deleteQuietly(temp);
      requireSameObject(this.location, name, await this.get(name), parts);
    }
  }

  async #deleteQuietly(path: string): Promise<void> {
    await this.#request(
      `delete ${path} in ${this.location}`,
      { method: "DELETE", path, accept: [404] },
      async (response) => void await response.body?.cancel(),
    ).catch(() => {});
  }

  async delete(name: string): Promise<void> {
    checkObjectName(name);
    await this.#request(
      `delete ${name} in ${this.location}`,
      { method: "DELETE", path: name, accept: [404] },
      async (response) => void await response.body?.cancel(),
    );
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    const slash = prefix.lastIndexOf("/");
    yield* this.#walk(slash < 0 ? "" : prefix.slice(0, slash), prefix);
  }

  /** PROPFIND depth 1, folder by folder (servers may refuse depth infinity). */
  async *#walk(folder: string, prefix: string): AsyncIterable<ObjectInfo> {
    const xml = await this.#request(
      `list ${folder || "/"} in ${this.location}`,
      {
        method: "PROPFIND",
        path: folder ? folder + "/" : "",
        headers: { depth: "1", "content-type": "application/xml" },
        accept: [404],
      },
      async (response) =>
        response.status === 404
          ? (await response.body?.cancel(), "")
          : new TextDecoder().decode(await readBody(response)),
    );
    const base = new URL(this.#url).pathname.replace(/\/$/, "");
    for (const entry of davElements(xml, "response")) {
      const href = decodeURIComponent(
        new URL(davElements(entry, "href")[0] ?? "", this.#url).pathname,
      ).slice(base.length).replace(/^\/+|\/+$/g, "");
      if (href === folder) continue;
      const leaf = href.slice(href.lastIndexOf("/") + 1);
      if (leaf.startsWith(".")) continue; // temporary uploads and foreign dotfiles
      const isFolder = /<(?:\w+:)?collection\b/.test(entry);
      if (isFolder) {
        this.#folders.add(href);
        if ((href + "/").startsWith(prefix) || prefix.startsWith(href + "/")) {
          yield* this.#walk(href, prefix);
        }
      } else if (href.startsWith(prefix) && isObjectName(href)) {
        yield {
          name: href,
          size: Number(davElements(entry, "getcontentlength")[0] ?? 0),
          modifiedMs: Date.parse(davElements(entry, "getlastmodified")[0] ?? "") || 0,
        };
      }
    }
  }

  /** Stops rclone. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (!this.#child) return;
    try {
      this.#child.kill("SIGTERM");
    } catch {
      // It had exited.
    }
    await this.#child.status;
  }
}

/** The contents of each DAV element `tag`, whatever its namespace prefix. */
function davElements(xml: string, tag: string): string[] {
  const pattern = new RegExp(
    `<((?:\\w+:)?${tag})(?:\\s[^>]*)?>([\\s\\S]*?)</\\1>`,
    "gi",
  );
  return [...xml.matchAll(pattern)].map((m) =>
    m[2]!.replace(/&amp;/g, "&").replace(/&lt;/g, "<").replace(/&gt;/g, ">")
      .replace(/&quot;/g, '"').replace(/&apos;/g, "'")
  );
}
