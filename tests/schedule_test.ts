// Schedules (issue #6): settings records (FORMAT.md §13), the due rule,
// `backup --if-due` against a fake clock, and `schedule install` into a
// temporary HOME.

import fc from "fast-check";
import { assertEquals, assertRejects, assertTrue } from "./_assert.ts";
import { cofre } from "./_cli.ts";
import { concatBytes, sha256Hex } from "../src/_bytes.ts";
import {
  crontabLine,
  dueStatus,
  FormatError,
  MemoryStorage,
  nextDueMs,
  readSettingsRecord,
  Repository,
  SCHEDULE_SLACK_MS,
  SETTINGS_PREFIX,
  systemdUnits,
  updateCrontab,
} from "../mod.ts";
import { TEST_ONLY_FAST_ARGON2ID } from "../src/kdf.ts";

const PASSWORD = "vivid otter juggles lanterns";
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

async function memoryRepository() {
  const storage = new MemoryStorage();
  const { repository } = await Repository.init(storage, {
    password: PASSWORD,
    argon2id: TEST_ONLY_FAST_ARGON2ID,
  });
  return { storage, repository };
}

Deno.test("settings: the record with the highest sequence wins; older ones are deleted", async () => {
  const { storage, repository } = await memoryRepository();
  try {
    assertEquals((await repository.settings()).settings, { schedule: "off" });
    assertEquals((await repository.settings()).sequence, -1n);
    await repository.updateSettings({ schedule: "daily" });
    await repository.updateSettings({ schedule: "monthly" });
    const stored = await repository.settings();
    assertEquals([stored.settings.schedule, stored.sequence], ["monthly", 1n]);
    assertEquals(stored.records.length, 1, "the superseded record is deleted");
    // Another device opening the repository sees the same schedule.
    const again = await Repository.open(storage, { password: PASSWORD });
    assertEquals((await again.settings()).settings.schedule, "monthly");
    await again.close();
  } finally {
    await repository.close();
  }
});

Deno.test("settings: a damaged or foreign record is reported and never obeyed", async () => {
  const { storage, repository } = await memoryRepository();
  const other = await memoryRepository();
  try {
    await repository.updateSettings({ schedule: "weekly" });
    const [name] = (await Array.fromAsync(storage.list(SETTINGS_PREFIX))).map((o) => o.name);
    const bytes = await storage.get(name!);
    // Every single-byte flip is refused (name check, structure, signature or seal),
    // and the settings fall back to the defaults rather than obey damage.
    for (let i = 0; i < bytes.length; i += 5) {
      const damaged = bytes.slice();
      damaged[i]! ^= 0x40;
      storage.tamper(name!, damaged);
      const stored = await repository.settings();
      assertEquals([stored.settings.schedule, stored.damaged.length], ["off", 1], `byte ${i}`);
    }
    storage.tamper(name!, bytes);
    // A record from another repository, copied in under its own (valid) name.
    await other.repository.updateSettings({ schedule: "daily" });
    for await (const { name: foreign } of other.storage.list(SETTINGS_PREFIX)) {
      await storage.put(foreign, await other.storage.get(foreign));
    }
    const stored = await repository.settings();
    assertEquals(stored.settings.schedule, "weekly");
    assertEquals(stored.damaged.length, 1);
    assertTrue(stored.damaged[0]!.reason.includes("another repository"), stored.damaged[0]!.reason);
  } finally {
    await repository.close();
    await other.repository.close();
  }
});

Deno.test("settings: garbage under its own name is a FormatError, never a crash", async () => {
  const { storage, repository } = await memoryRepository();
  try {
    // Named by their own SHA-256, so the parser, not the name check, meets them;
    // half start like a real record (magic, version, this repository's id).
    const header = concatBytes(
      new TextEncoder().encode("cofreset\x01"),
      repository.config.repositoryId,
    );
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), fc.boolean(), async (tail, real) => {
        const bytes = real ? concatBytes(header, tail) : tail;
        const name = SETTINGS_PREFIX + await sha256Hex(bytes);
        await storage.put(name, bytes);
        try {
          const keys = {
            meta: null as never, // never reached: the structure or the signature fails first
            publicKey: repository.config.publicKey,
            repositoryId: repository.config.repositoryId,
          };
          await assertRejects(() => readSettingsRecord(storage, name, keys), FormatError);
          const stored = await repository.settings();
          assertEquals([stored.settings.schedule, stored.damaged.length], ["off", 1]);
        } finally {
          await storage.delete(name);
        }
      }),
      { numRuns: 200 },
    );
  } finally {
    await repository.close();
  }
});

Deno.test("the due rule: a period after the last backup, less the slack; months by the calendar", () => {
  const last = new Date(2026, 0, 31, 10, 0, 3).getTime();
  assertEquals(nextDueMs("off", last), null);
  assertEquals(nextDueMs("daily", last), last + DAY - SCHEDULE_SLACK_MS);
  assertEquals(nextDueMs("weekly", last), last + 7 * DAY - SCHEDULE_SLACK_MS);
  // 31 January → the last day of February, same local time.
  assertEquals(
    nextDueMs("monthly", last),
    new Date(2026, 1, 28, 10, 0, 3).getTime() - SCHEDULE_SLACK_MS,
  );
  assertEquals(
    nextDueMs("monthly", new Date(2026, 11, 15, 8).getTime()),
    new Date(2027, 0, 15, 8).getTime() - SCHEDULE_SLACK_MS,
  );
  // An hourly timer firing at 10:00:00 the next day finds the 10:00:03 backup due.
  assertTrue(dueStatus("daily", last, new Date(2026, 1, 1, 10, 0, 0).getTime()).due);
  assertTrue(!dueStatus("daily", last, new Date(2026, 1, 1, 9, 0, 0).getTime()).due);
  assertEquals(dueStatus("weekly", null, 5).due, true);
  assertEquals(dueStatus("off", null, 5), {
    schedule: "off",
    due: false,
    lastMs: null,
    nextMs: null,
  });
  fc.assert(fc.property(
    fc.constantFrom("daily" as const, "weekly" as const, "monthly" as const),
    fc.integer({ min: 0, max: 4_000_000_000_000 }),
    (schedule, lastMs) => {
      const next = nextDueMs(schedule, lastMs)!;
      // Due a bit less than a period later; never early, never more than 31 days.
      return next > lastMs + 27 * DAY - 2 * HOUR || schedule !== "monthly"
        ? next > lastMs && next <= lastMs + 31 * DAY + 2 * HOUR &&
          !dueStatus(schedule, lastMs, next - 1).due && dueStatus(schedule, lastMs, next).due
        : false;
    },
  ));
});

Deno.test("backup --if-due follows the repository's schedule and the clock", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cofre-schedule-" });
  const env = { COFRE_REPOSITORY: `${dir}/repo`, COFRE_PASSWORD: PASSWORD };
  const source = `${dir}/chat`;
  try {
    await Deno.mkdir(source);
    await Deno.writeTextFile(`${source}/msgstore.db`, "hello");
    assertEquals((await cofre(["init"], { env })).code, 0);
    const count = async () =>
      JSON.parse((await cofre(["snapshots", "--json"], { env })).stdout).length as number;
    const t0 = Date.now();

    // Off: --if-due does nothing, says why, and succeeds.
    let run = await cofre(["backup", "--if-due", source], { env, nowMs: t0 });
    assertEquals(run.code, 0, run.stderr);
    assertTrue(run.stdout.includes("No schedule"), run.stdout);
    assertEquals(await count(), 0);

    assertEquals((await cofre(["schedule", "set", "daily"], { env })).code, 0);
    // Never backed up: due.
    run = await cofre(["backup", "--if-due", source], { env, nowMs: t0 });
    assertEquals(run.code, 0, run.stderr);
    assertEquals(await count(), 1);
    // An hour later: not due, and the JSON says when it will be.
    run = await cofre(["backup", "--if-due", "--json", source], { env, nowMs: t0 + HOUR });
    const report = JSON.parse(run.stdout);
    assertEquals([run.code, report.due, report.schedule], [0, false, "daily"]);
    assertTrue(report.next_ms > t0 + 23 * HOUR && report.next_ms <= t0 + DAY + 60_000);
    run = await cofre(["backup", "--if-due", source], { env, nowMs: t0 + 2 * HOUR });
    assertTrue(run.stdout.startsWith("Not due"), run.stdout);
    assertEquals(await count(), 1);
    // Another host's backup of the same paths does not count for this one.
    run = await cofre(["backup", "--if-due", "--host", "tablet", source], {
      env,
      nowMs: t0 + 2 * HOUR,
    });
    assertEquals(await count(), 2);
    // A day later: due again.
    run = await cofre(["backup", "--if-due", source], { env, nowMs: t0 + DAY });
    assertEquals(run.code, 0, run.stderr);
    assertEquals(await count(), 3);

    // Snapshot times are real: every backup above happened about t0.
    for (const [offset, due] of [[HOUR, false], [DAY + HOUR, true]] as const) {
      const show = await cofre(["schedule", "show", "--json"], { env, nowMs: t0 + offset });
      const shown = JSON.parse(show.stdout);
      assertEquals(shown.schedule, "daily");
      assertEquals(
        shown.backups.map((b: { host: string; due: boolean }) => [b.host, b.due]).sort(),
        [[Deno.hostname(), due], ["tablet", due]].sort(),
      );
    }
    const text = await cofre(["schedule", "show"], { env, nowMs: t0 + DAY + HOUR });
    assertTrue(text.stdout.startsWith("Schedule: daily"), text.stdout);

    const bad = await cofre(["schedule", "set", "hourly"], { env });
    assertEquals(bad.code, 2);
    assertTrue(bad.stderr.includes("daily, weekly, monthly"), bad.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("schedule install writes a systemd user timer, or a crontab line, into a temporary HOME", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cofre-install-" });
  const home = `${dir}/home with space`;
  const passwordFile = `${dir}/pw`;
  const env = { COFRE_REPOSITORY: `${dir}/repo`, COFRE_PASSWORD: PASSWORD, HOME: home };
  try {
    await Deno.mkdir(home);
    await Deno.writeTextFile(passwordFile, PASSWORD);
    await cofre(["init"], { env });
    // A timer cannot type a password.
    const refused = await cofre(["schedule", "install", `${dir}/chat`], { env });
    assertEquals(refused.code, 2);
    assertTrue(refused.stderr.includes("--password-file"), refused.stderr);

    const files = { [passwordFile]: PASSWORD };
    const args = ["--password-file", passwordFile, "schedule", "install", "--system", "systemd"];
    const printed = await cofre([...args, `${dir}/chat`], { env, files });
    assertEquals(printed.code, 0, printed.stderr);
    assertTrue(printed.stdout.includes("OnCalendar=hourly"), printed.stdout);
    assertTrue(printed.stderr.includes("schedule is off"), printed.stderr);

    const written = await cofre([...args, "--write", `${dir}/chat`, "--tag", "nightly"], {
      env,
      files,
    });
    assertEquals(written.code, 0, written.stderr);
    const units = `${home}/.config/systemd/user`;
    const [service] = [...Deno.readDirSync(units)].map((e) => e.name).filter((n) =>
      n.endsWith(".service")
    );
    const text = await Deno.readTextFile(`${units}/${service}`);
    const exec = text.split("\n").find((l) => l.startsWith("ExecStart="))!;
    for (const part of ["backup --if-due", "--tag nightly", `--password-file ${passwordFile}`]) {
      assertTrue(exec.includes(part), exec);
    }
    assertTrue(!exec.includes(PASSWORD), "the password is never written");
    assertTrue(
      (await Deno.readTextFile(`${units}/${service!.replace(".service", ".timer")}`))
        .includes("Persistent=true"),
    );

    // cron: a fake crontab program on PATH keeps the table in a file.
    const bin = `${dir}/bin`;
    await Deno.mkdir(bin);
    await Deno.writeTextFile(
      `${bin}/crontab`,
      `#!/bin/sh\nif [ "$1" = "-l" ]; then cat "${dir}/table" 2>/dev/null || exit 1; ` +
        `else cat > "${dir}/table"; fi\n`,
    );
    await Deno.chmod(`${bin}/crontab`, 0o755);
    await Deno.writeTextFile(`${dir}/table`, "MAILTO=me\n");
    const cronEnv = { ...env, PATH: bin };
    const cronArgs = ["--password-file", passwordFile, "schedule", "install", "--system", "cron"];
    for (let i = 0; i < 2; i++) {
      const cron = await cofre([...cronArgs, "--write", `${dir}/chat`], { env: cronEnv, files });
      assertEquals(cron.code, 0, cron.stderr);
    }
    const table = (await Deno.readTextFile(`${dir}/table`)).trimEnd().split("\n");
    assertEquals(table.length, 2, "installing again replaces the line");
    assertEquals(table[0], "MAILTO=me");
    assertTrue(
      /^\d+ \* \* \* \* .* backup --if-due .* # cofre-backup-[0-9a-f]{8}$/.test(table[1]!),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("timer lines quote what the shell and systemd would otherwise split or expand", () => {
  const spec = {
    name: "cofre-backup-0123abcd",
    description: "test",
    command: ["/usr/bin/deno", "/home/a b/100% it's $HOME"],
  };
  const exec = systemdUnits(spec).service.split("\n").find((l) => l.startsWith("ExecStart="));
  assertEquals(exec, `ExecStart=/usr/bin/deno "/home/a b/100%% it's $$HOME"`);
  const line = crontabLine(spec);
  assertTrue(line.includes(`'/home/a b/100\\% it'\\''s $HOME'`), line);
  assertEquals(updateCrontab(updateCrontab("", spec), spec), line + "\n");
});

Deno.test("check reports a damaged settings record", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cofre-settings-check-" });
  const env = { COFRE_REPOSITORY: `${dir}/repo`, COFRE_PASSWORD: PASSWORD };
  try {
    await cofre(["init"], { env });
    await cofre(["schedule", "set", "weekly"], { env });
    assertEquals((await cofre(["check"], { env })).code, 0);
    const [record] = [...Deno.readDirSync(`${dir}/repo/settings`)].map((e) => e.name);
    const path = `${dir}/repo/settings/${record}`;
    const bytes = await Deno.readFile(path);
    bytes[50]! ^= 1;
    await Deno.chmod(path, 0o600);
    await Deno.writeFile(path, bytes);
    const check = await cofre(["check"], { env });
    assertEquals(check.code, 1, check.stdout);
    assertTrue(check.stdout.includes(`settings/${record}`), check.stdout);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
