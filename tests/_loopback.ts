// A static file server on 127.0.0.1 for browser tests: serves files under
// the project root (only the folders a test names) and extra in-memory files,
// on a free port. Closed with `await using`.

const ROOT = new URL("../", import.meta.url);
const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  mjs: "text/javascript; charset=utf-8",
  wasm: "application/wasm",
  css: "text/css; charset=utf-8",
};

/** A running server; `url` ends with "/". */
export interface Loopback extends AsyncDisposable {
  url: string;
}

/**
 * Serves `GET /<path>` from the project for paths under one of `folders`
 * (e.g. ["examples/", "build/"]), and `extra` files by exact path.
 */
export function serveLoopback(
  options: { folders: string[]; extra?: Record<string, Uint8Array<ArrayBuffer>> },
): Loopback {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const path = decodeURIComponent(new URL(request.url).pathname).slice(1);
    const extra = options.extra?.[path];
    const type = TYPES[path.split(".").at(-1) ?? ""] ?? "application/octet-stream";
    if (extra) return new Response(extra, { headers: { "content-type": type } });
    if (path.includes("..") || !options.folders.some((folder) => path.startsWith(folder))) {
      return new Response("not found", { status: 404 });
    }
    try {
      const bytes = await Deno.readFile(new URL(path, ROOT));
      return new Response(bytes, { headers: { "content-type": type } });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/`,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}
