// Debian's headless Chromium driven by playwright-core, with the flags this
// closed network needs (no QUIC, no component updates or sync, a fresh
// profile). `.ci/run` installs the chromium package when it is missing.

import { type BrowserContext, chromium, type Page } from "playwright-core";

const CHROMIUM = "/usr/bin/chromium";

/** A headless browser with one page; closed (profile removed) with `await using`. */
export interface HeadlessPage extends AsyncDisposable {
  page: Page;
  context: BrowserContext;
}

export async function openHeadlessPage(): Promise<HeadlessPage> {
  const profile = await Deno.makeTempDir({ prefix: "cofre-chromium-" });
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      acceptDownloads: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
  } catch (error) {
    await Deno.remove(profile, { recursive: true });
    throw new Error(
      `Cannot start ${CHROMIUM} (apt-get install -y chromium): ${(error as Error).message}`,
    );
  }
  const page = context.pages()[0] ?? await context.newPage();
  return {
    page,
    context,
    async [Symbol.asyncDispose]() {
      await context.close();
      await Deno.remove(profile, { recursive: true });
    },
  };
}
