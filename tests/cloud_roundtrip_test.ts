// Full round trips through the CLI on real servers on loopback: an
// S3-compatible server (s3rver) and rclone serving a local folder (issue
// #7's acceptance). Each backend runs the same list of CLI steps, so more
// commands (check --read-data, forget --prune) join by adding steps.

import { assertEquals, assertTrue } from "./_assert.ts";
import { cofre } from "./_cli.ts";
import { describeTree, pseudoRandomBytes } from "./_data.ts";
import { rcloneAvailable, startS3Server } from "./_servers.ts";

const PASSWORD = "vivid otter juggles lanterns";

/** One CLI step: its arguments, the exit code it must end with, and a check of its output. */
interface Step {
  name: string;
  args: (dir: string) => string[];
  code?: number;
  /** Runs before the command (change the source...). */
  before?: (dir: string) => Promise<void>;
  /** Runs after it, with its stdout. */
  after?: (dir: string, stdout: string) => Promise<void>;
}

async function makeSource(root: string): Promise<void> {
  await Deno.mkdir(`${root}/db`, { recursive: true });
  await Deno.mkdir(`${root}/media/empty`, { recursive: true });
  await Deno.writeFile(`${root}/media/video.mp4`, pseudoRandomBytes(6_000_000, 11));
  await Deno.writeTextFile(
    `${root}/db/chat.db`,
    Array.from({ length: 20_000 }, (_, i) => `message ${i}`).join("\n"),
  );
  await Deno.symlink("media/video.mp4", `${root}/latest`);
}

async function sameTree(a: string, b: string): Promise<void> {
  assertEquals(await describeTree(b, ""), await describeTree(a, ""));
}

/** The round trip every backend runs; the lead adds check/forget/prune steps here. */
export const ROUND_TRIP: Step[] = [
  { name: "init", args: () => ["init"] },
  { name: "backup", args: (d) => ["backup", `${d}/src`, "--tag", "first"] },
  {
    name: "second backup after a change",
    before: async (d) => {
      await Deno.writeTextFile(`${d}/src/db/chat.db`, "\nmessage new", { append: true });
    },
    args: (d) => ["backup", `${d}/src`, "--tag", "second"],
  },
  {
    name: "snapshots",
    args: () => ["snapshots", "--json"],
    after: async (_, stdout) => {
      assertEquals((JSON.parse(stdout) as unknown[]).length, 2);
      await Promise.resolve();
    },
  },
  {
    name: "restore latest",
    args: (d) => ["restore", "latest", "--target", `${d}/restored`],
    after: (d) => sameTree(`${d}/src`, `${d}/restored/src`),
  },
  // Retention on the remote: prune plans the deletion, the next prune carries it out
  // (the grace period is shortened to 0 for the test).
  { name: "forget --prune", args: () => ["forget", "--keep-last", "1", "--prune"] },
  { name: "prune", args: () => ["prune"] },
  {
    name: "one snapshot left",
    args: () => ["snapshots", "--json"],
    after: async (_, stdout) => {
      assertEquals((JSON.parse(stdout) as unknown[]).length, 1);
      await Promise.resolve();
    },
  },
  {
    name: "restore after prune",
    args: (d) => ["restore", "latest", "--target", `${d}/restored-after-prune`],
    after: (d) => sameTree(`${d}/src`, `${d}/restored-after-prune/src`),
  },
  {
    name: "check --read-data",
    args: () => ["check", "--read-data", "--json"],
    after: async (_, stdout) => {
      assertEquals(JSON.parse(stdout).ok, true, stdout);
      await Promise.resolve();
    },
  },
  {
    name: "check --public (no password needed)",
    args: () => ["check", "--public", "--read-data"],
  },
];

async function roundTrip(location: string, env: Record<string, string>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "cofre-cloud-" });
  try {
    await makeSource(`${dir}/src`);
    const script = {
      env: { ...env, COFRE_PASSWORD: PASSWORD, COFRE_REPOSITORY: location },
      pruneGraceMs: 0,
    };
    for (const step of ROUND_TRIP) {
      await step.before?.(dir);
      const result = await cofre(step.args(dir), script);
      assertEquals(result.code, step.code ?? 0, `${step.name}: ${result.stderr}`);
      await step.after?.(dir, result.stdout);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("round trip on an S3-compatible server (s3rver)", async () => {
  const server = await startS3Server();
  try {
    await roundTrip(`s3:${server.endpoint}/${server.bucket}/phone`, {
      ...server.env,
      COFRE_CONNECTIONS: "3",
    });
    // A missing bucket is a one-line error, exit 1.
    const missing = await cofre(["snapshots"], {
      env: {
        ...server.env,
        COFRE_PASSWORD: PASSWORD,
        COFRE_REPOSITORY: `s3:${server.endpoint}/absent-bucket`,
      },
    });
    assertEquals(missing.code, 1, missing.stderr);
    assertTrue(
      /^cofre: Cannot .*bucket "absent-bucket" does not exist.*\n$/.test(missing.stderr),
      missing.stderr,
    );
  } finally {
    await server.stop();
  }
});

Deno.test({
  name: "round trip on an rclone remote (a local folder through rclone serve webdav)",
  ignore: !(await rcloneAvailable()),
  async fn() {
    const folder = await Deno.makeTempDir({ prefix: "cofre-rclone-remote-" });
    try {
      await roundTrip(`rclone:${folder}/backups`, {});
      // The repository is really on the remote.
      assertTrue((await Deno.stat(`${folder}/backups/config`)).isFile);
    } finally {
      await Deno.remove(folder, { recursive: true });
    }
  },
});
