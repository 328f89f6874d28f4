// The browser restore page (examples/web/) end to end in headless Chromium:
// a repository made by Cofre is picked as a folder, opened with the typed
// password and account, and its snapshot restored in the page; the files the
// page offers as downloads, and those it streams into a folder, are byte for
// byte the source. A wrong password or account gets the clear message and no
// files.

import { assertEquals, assertTrue } from "./_assert.ts";
import { pseudoRandomBytes } from "./_data.ts";
import { openHeadlessPage } from "./_chromium.ts";
import { serveLoopback } from "./_loopback.ts";
import { LocalStorage, Repository } from "../mod.ts";
import { TEST_ONLY_FAST_ARGON2ID } from "../src/kdf.ts";
import { toHex } from "../src/_bytes.ts";

const PASSWORD = "correct horse battery staple";

// The page's DOM, as far as the checks below read it: the tests are
// type-checked without lib.dom. Callbacks run in the page, so each one casts
// `globalThis` itself.
type Digests = Record<string, { size: number; sha256: string }>;
/** The origin-private file system's handles, as far as the folder-mode check uses them. */
interface PageHandle {
  kind: "file" | "directory";
  name: string;
  values(): AsyncIterable<PageHandle>;
  getFile(): Promise<Blob>;
  getDirectoryHandle(name: string, options?: { create: true }): Promise<PageHandle>;
}
type PageStorage = { navigator: { storage: { getDirectory(): Promise<PageHandle> } } };
interface PageDocument {
  getElementById(id: string): { textContent: string | null };
  querySelectorAll(selector: string): Iterable<{ href: string; dataset: { path?: string } }>;
}
const ACCOUNT = "+44 20 7946 0958";

/** Builds the page's bundle with `deno task web` (type-checked), into build/web/. */
async function bundle(): Promise<void> {
  const output = await new Deno.Command(Deno.execPath(), {
    cwd: new URL("../", import.meta.url).pathname,
    args: ["task", "web"],
    env: { NO_COLOR: "1" },
  }).output();
  assertTrue(output.success, new TextDecoder().decode(output.stderr));
}

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  return toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)));
}

Deno.test("the web page restores a snapshot in Chromium, and refuses a wrong password or account", async () => {
  const dir = await Deno.makeTempDir();
  const pageErrors: string[] = [];
  const diagnostics: string[] = [];
  try {
    // Several chunks in one file, a file stored twice, nested folders, an empty file.
    const sources: Record<string, Uint8Array<ArrayBuffer>> = {
      "photos/large.bin": pseudoRandomBytes(700_000, 5),
      "photos/copy.bin": pseudoRandomBytes(700_000, 5),
      "notes/chat/history.txt": new TextEncoder().encode("olá · 你好 · hello\n".repeat(2000)),
      "empty.txt": new Uint8Array(0),
    };
    for (const [path, bytes] of Object.entries(sources)) {
      await Deno.mkdir(`${dir}/phone/${path.split("/").slice(0, -1).join("/")}`, {
        recursive: true,
      });
      await Deno.writeFile(`${dir}/phone/${path}`, bytes);
    }
    const { repository, recoveryKey } = await Repository.init(new LocalStorage(`${dir}/backup`), {
      password: PASSWORD,
      recoveryKey: true,
      account: ACCOUNT,
      argon2id: TEST_ONLY_FAST_ARGON2ID,
      chunker: { minSize: 16384, avgSize: 65536, maxSize: 262144 },
    });
    await repository.backup({ paths: [`${dir}/phone`], workers: 0 });
    await repository.close();

    await bundle();
    await using server = serveLoopback({
      folders: ["examples/web/", "build/cofre.wasm", "build/web/cofre_restore.js"],
    });
    await using browser = await openHeadlessPage();
    const { page } = browser;
    page.on("pageerror", (error) => pageErrors.push(error.message));
    // Diagnostics for a failure. The console also shows, by design, the
    // page's attempt to load node:v8 (src/_gc.ts: browsers do without).
    page.on("console", (message) => {
      if (message.type() === "error") diagnostics.push(message.text());
    });
    page.on("response", (response) => {
      if (!response.ok()) diagnostics.push(`${response.status()} ${response.url()}`);
    });
    page.setDefaultTimeout(20_000);
    // The folder picker is a dialog headless Chromium cannot show: it gives
    // a folder of the origin-private file system instead, which has the same
    // File System Access API the page streams into.
    await page.addInitScript(() => {
      const page = globalThis as unknown as PageStorage & { showDirectoryPicker: unknown };
      page.showDirectoryPicker = async () =>
        await (await page.navigator.storage.getDirectory()).getDirectoryHandle("restored", {
          create: true,
        });
    });
    await page.goto(`${server.url}examples/web/index.html`);
    await page.setInputFiles("#folder", `${dir}/backup`);

    // Wrong password, then wrong account: the message, and nothing to restore.
    for (
      const [password, account] of [["not the password", ACCOUNT], [PASSWORD, "+1 202 555 0100"]]
    ) {
      await page.fill("#password", password!);
      await page.fill("#account", account!);
      await page.click("#open");
      await page.waitForFunction(() =>
        (globalThis as unknown as { document: PageDocument }).document.getElementById("error")
          .textContent !== ""
      );
      assertEquals(
        await page.textContent("#error"),
        "Cannot open the repository: wrong password, recovery key or account",
      );
      assertTrue(await page.isDisabled("#restore"));
    }

    await page.fill("#password", PASSWORD);
    await page.fill("#account", ACCOUNT);
    await page.click("#open");
    await page.waitForFunction(() =>
      [...(globalThis as unknown as { document: PageDocument }).document.querySelectorAll(
        "#snapshot option",
      )].length > 0
    );
    assertEquals(await page.textContent("#error"), "");
    assertEquals(await page.inputValue("#password"), ""); // not kept in the page
    await page.click("#restore");
    await page.waitForFunction(() => {
      const { document } = globalThis as unknown as { document: PageDocument };
      return /^Restored/.test(document.getElementById("status").textContent ?? "") ||
        document.getElementById("error").textContent !== "";
    });
    assertEquals(await page.textContent("#error"), "");

    const restored = await page.evaluate(async () => {
      const { document } = globalThis as unknown as { document: PageDocument };
      const out: Digests = {};
      for (const link of document.querySelectorAll("a[data-path]")) {
        const bytes = await (await fetch(link.href)).arrayBuffer();
        const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
        out[link.dataset.path!] = {
          size: bytes.byteLength,
          sha256: Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join(""),
        };
      }
      return out;
    });
    const expected: Digests = {};
    for (const [path, bytes] of Object.entries(sources)) {
      expected[`phone/${path}`] = { size: bytes.length, sha256: await sha256(bytes) };
    }
    assertEquals(restored, expected);

    // Folder mode: every chunk written to disk as it is verified.
    await page.click("#restore-to-folder");
    await page.waitForFunction(() => {
      const { document } = globalThis as unknown as { document: PageDocument };
      return /into the folder/.test(document.getElementById("status").textContent ?? "") ||
        document.getElementById("error").textContent !== "";
    });
    assertEquals(await page.textContent("#error"), "");
    const written = await page.evaluate(async () => {
      const { navigator } = globalThis as unknown as PageStorage;
      const out: Digests = {};
      async function walk(dir: PageHandle, prefix: string): Promise<void> {
        for await (const handle of dir.values()) {
          const path = prefix + handle.name;
          if (handle.kind === "directory") await walk(handle, `${path}/`);
          else {
            const bytes = await (await handle.getFile()).arrayBuffer();
            const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
            out[path] = {
              size: bytes.byteLength,
              sha256: Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join(""),
            };
          }
        }
      }
      await walk(await (await navigator.storage.getDirectory()).getDirectoryHandle("restored"), "");
      return out;
    });
    assertEquals(written, expected);

    // The recovery key opens it too (no password typed).
    await page.fill("#recovery-key", recoveryKey!);
    await page.click("#open");
    await page.waitForFunction(() => {
      const { document } = globalThis as unknown as { document: PageDocument };
      return /^Opened/.test(document.getElementById("status").textContent ?? "") ||
        document.getElementById("error").textContent !== "";
    });
    assertEquals(await page.textContent("#error"), "");
    assertEquals(await page.inputValue("#recovery-key"), "");
    assertEquals(pageErrors, []);
  } catch (error) {
    throw new Error(
      `${(error as Error).message}\npage: ${[...pageErrors, ...diagnostics].join("\n")}`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
