// Storage that fails (tests/_faulty_storage.ts): a backup either completes or
// fails cleanly with the storage's error, the repository stays readable, and
// the next run completes with nothing lost (restore equals the source).
// Also the retry policy of the remote backends (src/storage/_http.ts).

import { assertEquals, assertRejects, assertTrue } from "./_assert.ts";
import { describeTree, pseudoRandomBytes } from "./_data.ts";
import { type Fault, FaultyStorage, InjectedFaultError } from "./_faulty_storage.ts";
import { MemoryStorage, Repository } from "../mod.ts";
import {
  HttpStatusError,
  readBody,
  RemoteUnavailableError,
  retrying,
  TruncatedResponseError,
} from "../src/storage/_http.ts";

const PASSWORD = "vivid otter juggles lanterns";
const FAST = { memoryKib: 64, iterations: 1, parallelism: 1 };

async function makeSource(root: string, seed: number): Promise<void> {
  await Deno.mkdir(`${root}/a/b`, { recursive: true });
  await Deno.writeFile(`${root}/a/big.bin`, pseudoRandomBytes(3_000_000, seed));
  await Deno.writeFile(`${root}/a/b/small.bin`, pseudoRandomBytes(5_000, seed + 1));
  await Deno.writeTextFile(`${root}/a/b/notes.txt`, `notes ${seed}\n`.repeat(1000));
}

async function restoresTo(storage: FaultyStorage, source: string, target: string) {
  const repository = await Repository.open(storage, { password: PASSWORD });
  try {
    await repository.restore("latest", { target, workers: 0, connections: 3 });
  } finally {
    await repository.close();
  }
  assertEquals(await describeTree(`${target}/src`, ""), await describeTree(source, ""));
  await Deno.remove(target, { recursive: true });
}

Deno.test("a backup that meets storage faults fails cleanly, and the next run loses nothing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cofre-faults-" });
  const storage = new FaultyStorage(new MemoryStorage());
  try {
    await makeSource(`${dir}/src`, 1);
    const { repository } = await Repository.init(storage, { password: PASSWORD, argon2id: FAST });
    await repository.backup({ paths: [`${dir}/src`], workers: 0 });
    await repository.close();

    // Fault at each write in turn, of each kind: every run completes or fails
    // with the injected error; then a clean run completes and restores exactly.
    const kinds: Fault[] = ["error", "error-after", "timeout", "slow"];
    // A backup of new data writes a pack, an index and a snapshot: fault each, each way.
    for (let round = 0; round < 12; round++) {
      const fault = kinds[round % kinds.length]!;
      const at = 1 + Math.floor(round / kinds.length); // the put that fails
      await makeSource(`${dir}/src`, 10 + round); // new data, so there is something to write
      storage.rule = (operation, _name, call) =>
        operation === "put" && call === at ? fault : "none";
      storage.calls.put = 0;
      const faulty = await Repository.open(storage, { password: PASSWORD });
      try {
        await faulty.backup({ paths: [`${dir}/src`], workers: 0, uploads: 3 });
        assertTrue(fault === "slow" || storage.calls.put < at, `round ${round} should fail`);
      } catch (error) {
        assertTrue(error instanceof InjectedFaultError, `round ${round}: ${error}`);
      } finally {
        await faulty.close();
      }
      storage.rule = () => "none";
      const clean = await Repository.open(storage, { password: PASSWORD });
      try {
        await clean.backup({ paths: [`${dir}/src`], workers: 0, uploads: 2 });
      } finally {
        await clean.close();
      }
      await restoresTo(storage, `${dir}/src`, `${dir}/restored`);
    }
    assertTrue(storage.injected.length === 12, `only ${storage.injected.length} faults injected`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("restore with truncated or failing reads fails with an error, then restores exactly", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cofre-faults-" });
  const storage = new FaultyStorage(new MemoryStorage());
  try {
    await makeSource(`${dir}/src`, 2);
    const { repository } = await Repository.init(storage, { password: PASSWORD, argon2id: FAST });
    await repository.backup({ paths: [`${dir}/src`], workers: 0 });
    await repository.close();
    for (const fault of ["truncate", "error", "timeout"] as Fault[]) {
      storage.rule = (operation, name) =>
        operation === "get" && name.startsWith("data/") ? fault : "none";
      await assertRejects(() => restoresTo(storage, `${dir}/src`, `${dir}/restored`), Error);
      await Deno.remove(`${dir}/restored`, { recursive: true }).catch(() => {});
    }
    storage.rule = (operation) => operation === "get" ? "slow" : "none";
    await restoresTo(storage, `${dir}/src`, `${dir}/restored`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("remote requests retry 5xx, 429, timeouts and cut-short bodies, never 403", async () => {
  const policy = { retries: 3, baseDelayMs: 1, maxDelayMs: 5, timeoutMs: 1000, msPerMiB: 0 };
  const failures = [
    new HttpStatusError(503, "SlowDown", ""),
    new HttpStatusError(429, "", ""),
    new TruncatedResponseError(10, 5),
  ];
  let attempts = 0;
  assertEquals(
    await retrying("read x", policy, 0, () => {
      attempts++;
      const failure = failures.shift();
      return failure ? Promise.reject(failure) : Promise.resolve("done");
    }),
    "done",
  );
  assertEquals(attempts, 4);

  attempts = 0;
  await assertRejects(
    () =>
      retrying("read x", policy, 0, () => {
        attempts++;
        return Promise.reject(new HttpStatusError(403, "AccessDenied", ""));
      }),
    HttpStatusError,
  );
  assertEquals(attempts, 1);

  // A request that outlives its timeout is aborted and retried; then the retries run out.
  attempts = 0;
  const error = await assertRejects(
    () =>
      retrying("read x", { ...policy, timeoutMs: 10 }, 0, (signal) => {
        attempts++;
        return new Promise((_, reject) =>
          signal.addEventListener("abort", () => reject(signal.reason))
        );
      }),
    RemoteUnavailableError,
    "timed out (after 4 attempts",
  );
  assertTrue(error.message.startsWith("Cannot read x:"), error.message);
  assertEquals(attempts, 4);

  const response = new Response(new Uint8Array(5), { headers: { "content-length": "5" } });
  assertEquals((await readBody(response)).length, 5);
  await assertRejects(
    () => readBody(new Response(new Uint8Array(3)), 4),
    TruncatedResponseError,
  );
});

Deno.test("remote storage gets as many pack uploads at once as --connections asks", async () => {
  // Remote storage holds a pack's memory for its whole upload (no local
  // file to free it into), so the writer must keep one arena per upload.
  class SlowRemote extends MemoryStorage {
    inFlight = 0;
    most = 0;
    override async put(name: string, bytes: Uint8Array | readonly Uint8Array[]): Promise<void> {
      if (!name.startsWith("data/")) return await super.put(name, bytes);
      this.most = Math.max(this.most, ++this.inFlight);
      try {
        await new Promise((resolve) => setTimeout(resolve, 150));
        await super.put(name, bytes);
      } finally {
        this.inFlight--;
      }
    }
  }
  const dir = await Deno.makeTempDir({ prefix: "cofre-uploads-" });
  const storage = new SlowRemote();
  try {
    for (let i = 0; i < 6; i++) {
      await Deno.writeFile(`${dir}/media-${i}.bin`, pseudoRandomBytes(14_000_000, 40 + 2 * i));
    }
    const { repository } = await Repository.init(storage, { password: PASSWORD, argon2id: FAST });
    try {
      const result = await repository.backup({ paths: [dir], workers: 0, uploads: 4 });
      assertTrue(result.addedPacks >= 5, `${result.addedPacks} packs`);
    } finally {
      await repository.close();
    }
    assertTrue(storage.most >= 3, `at most ${storage.most} pack uploads at once`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
