// `deno task demo`: the main job on a sample chat-app folder, narrated. It
// makes the folder (a message database and media), creates a local
// repository, backs up, changes a few files, backs up again, restores and
// checks the result byte for byte, showing every command it runs.
//
// Everything lives in a temporary folder that is removed at the end
// (--keep leaves it for a look around).

import { main } from "./main.ts";
import { denoIo } from "./_ui.ts";

const keep = Deno.args.includes("--keep");
const dir = await Deno.makeTempDir({ prefix: "cofre-demo-" });
const source = `${dir}/chat-app`;
const repo = `${dir}/repository`;
const target = `${dir}/restored`;
// A demo password; real ones come from a prompt, COFRE_PASSWORD or --password-file.
const env: Record<string, string> = {
  COFRE_REPOSITORY: repo,
  COFRE_PASSWORD: "demo passphrase: correct horse battery staple",
  COFRE_ACCOUNT: "+55 11 99999-8888",
};
const real = denoIo();
const io = { ...real, env: (name: string) => env[name] ?? real.env(name) };

function say(text: string) {
  console.log(`\n\x1b[1m${text}\x1b[0m`);
}

async function cofre(...args: string[]): Promise<number> {
  console.log(`\x1b[2m$ cofre ${args.join(" ")}\x1b[0m`);
  const code = await main(args, io);
  if (code !== 0 && code !== 3) {
    console.error(`demo: 'cofre ${args[0]}' exited with ${code}`);
    Deno.exit(code);
  }
  return code;
}

/** Deterministic incompressible bytes, like photos and videos. */
function media(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed | 1;
  for (let i = 0; i < length; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x;
    out[i + 1] = x >>> 8;
    out[i + 2] = x >>> 16;
    out[i + 3] = x >>> 24;
  }
  return out;
}

async function makeSource(): Promise<void> {
  const { DatabaseSync } = await import("node:sqlite");
  await Deno.mkdir(`${source}/databases`, { recursive: true });
  await Deno.mkdir(`${source}/media/images`, { recursive: true });
  await Deno.mkdir(`${source}/media/voice`, { recursive: true });
  await Deno.mkdir(`${source}/media/video`, { recursive: true });
  const db = new DatabaseSync(`${source}/databases/messages.db`);
  db.exec(
    "CREATE TABLE messages (id INTEGER PRIMARY KEY, chat INTEGER, sender TEXT, sent_at INTEGER, body TEXT)",
  );
  db.exec("CREATE INDEX messages_chat ON messages (chat, sent_at)");
  const insert = db.prepare(
    "INSERT INTO messages (chat, sender, sent_at, body) VALUES (?, ?, ?, ?)",
  );
  const words =
    "see you at the station tomorrow photos from the trip are great call me when you land happy birthday dinner at eight"
      .split(" ");
  db.exec("BEGIN");
  for (let i = 0; i < 60000; i++) {
    const body = Array.from(
      { length: 5 + (i % 11) },
      (_, k) => words[(i * 7 + k * 3) % words.length],
    ).join(" ");
    insert.run(
      i % 40,
      i % 3 === 0 ? "me" : `+55119999${String(1000 + (i % 40))}`,
      1_700_000_000 + i * 37,
      body,
    );
  }
  db.exec("COMMIT");
  db.close();
  for (let i = 0; i < 40; i++) {
    await Deno.writeFile(
      `${source}/media/images/IMG-${1000 + i}.jpg`,
      media(150_000 + i * 4000, i + 1),
    );
  }
  for (let i = 0; i < 20; i++) {
    await Deno.writeFile(
      `${source}/media/voice/PTT-${2000 + i}.opus`,
      media(30_000 + i * 1000, i + 100),
    );
  }
  await Deno.writeFile(`${source}/media/video/VID-3000.mp4`, media(24 * 1024 * 1024, 7));
}

function isDatabase(bytes: Uint8Array): boolean {
  return new TextDecoder().decode(bytes.subarray(0, 16)) === "SQLite format 3\0";
}

async function sameTree(a: string, b: string): Promise<boolean> {
  for await (const entry of Deno.readDir(a)) {
    const [x, y] = [`${a}/${entry.name}`, `${b}/${entry.name}`];
    if (entry.isDirectory) {
      if (!(await sameTree(x, y))) return false;
    } else {
      const [p, q] = await Promise.all([Deno.readFile(x), Deno.readFile(y).catch(() => null)]);
      if (!q || p.length !== q.length) return false;
      // A database is restored from a consistent copy (FORMAT.md §7.4): every page
      // is the source's, but SQLite restarts three header counters in a copy.
      const counters = isDatabase(p) ? [[24, 28], [40, 44], [92, 100]] : [];
      if (p.some((v, i) => v !== q[i] && !counters.some(([from, to]) => i >= from! && i < to!))) {
        return false;
      }
    }
  }
  return true;
}

try {
  say("1. A chat app's data: a message database (SQLite) and its media.");
  await makeSource();
  console.log(`Made ${source}: 60,000 messages, 40 photos, 20 voice notes, one 24 MiB video.`);

  say("2. Create an encrypted repository in a local folder, bound to the account.");
  await cofre("init", "--recovery-key");

  say("3. Back up. Everything is new, so everything is stored (compressed where it pays).");
  await cofre("backup", source, "--tag", "first");

  say(
    "4. Change a few things: new messages, one new photo. Back up again: only new data is stored.",
  );
  const { DatabaseSync } = await import("node:sqlite");
  const db = new DatabaseSync(`${source}/databases/messages.db`);
  db.exec(
    "INSERT INTO messages (chat, sender, sent_at, body) VALUES (1, 'me', 1800000000, 'back home, sending the photos')",
  );
  db.close();
  await Deno.writeFile(`${source}/media/images/IMG-2000.jpg`, media(210_000, 999));
  await cofre("backup", source, "--tag", "second");

  say("5. The snapshots, and what the newest one holds.");
  await cofre("snapshots");
  await cofre("ls", "--long", "latest", "chat-app/databases");

  say("6. Lost the phone: restore the newest snapshot with the password and the account.");
  await cofre("restore", "latest", "--target", target);
  const ok = await sameTree(source, `${target}/chat-app`);
  say(
    ok
      ? "Restored tree is identical to the source, byte for byte (the database page for page)."
      : "MISMATCH between source and restore!",
  );

  say("7. The wrong account opens nothing (exit 12, same answer as a wrong password).");
  env.COFRE_ACCOUNT = "+55 11 99999-0000";
  console.log(`\x1b[2m$ COFRE_ACCOUNT='+55 11 99999-0000' cofre snapshots\x1b[0m`);
  console.log(`exit code ${await main(["snapshots"], io)}`);
  if (!ok) Deno.exit(1);
} finally {
  if (keep) console.log(`\nEverything is in ${dir}`);
  else await Deno.remove(dir, { recursive: true });
}
