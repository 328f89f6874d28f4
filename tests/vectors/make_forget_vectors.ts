// Regenerates tests/vectors/forget-restic.json: what the real restic binary keeps for a few
// timelines and policies. Needs `restic` 0.14 on PATH:
//   npx --no deno run -A tests/vectors/make_forget_vectors.ts
// Times are wall-clock times in Europe/Berlin (a zone with summer time); restic runs with TZ set to
// it and parses `backup --time` in it, and tests/forget_test.ts reads the same times in that zone.

const ZONE = "Europe/Berlin";

/** A deterministic timeline: `count` instants from `start`, steps of `min`..`max` minutes. */
function timeline(start: string, count: number, min: number, max: number, seed: number) {
  let x = seed;
  let t = Date.parse(start);
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    out.push(t);
    x = (x * 1103515245 + 12345) % 2 ** 31;
    t += (min + (x % (max - min + 1))) * 60_000;
  }
  return out;
}

/** The wall-clock time of `ms` in ZONE, as restic's --time takes it. */
function wallClock(ms: number): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-CA", {
      timeZone: ZONE,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    }).formatToParts(new Date(ms)).map((p) => [p.type, p.value]),
  );
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second}`;
}

const cases = [
  {
    name: "hours across the spring clock change",
    times: timeline("2021-03-26T21:13:00Z", 30, 20, 200, 7),
    tags: (_i: number): string[] => [],
    policies: [
      ["--keep-last", "3"],
      ["--keep-hourly", "5"],
      ["--keep-hourly", "10", "--keep-daily", "3"],
      ["--keep-daily", "4", "--keep-last", "2"],
    ],
  },
  {
    name: "days across the turn of 2020 (ISO week 53)",
    times: timeline("2020-11-20T08:30:00Z", 60, 8 * 60, 40 * 60, 11),
    tags: (_i: number): string[] => [],
    policies: [
      ["--keep-daily", "7"],
      ["--keep-weekly", "4"],
      ["--keep-monthly", "3", "--keep-weekly", "2"],
      ["--keep-daily", "7", "--keep-weekly", "4", "--keep-monthly", "6", "--keep-yearly", "2"],
    ],
  },
  {
    name: "months over five years, with tags",
    times: timeline("2018-01-03T12:00:00Z", 40, 10 * 1440, 60 * 1440, 3),
    tags: (i: number): string[] => i % 7 === 3 ? ["important"] : i % 5 === 0 ? ["a", "b"] : [],
    policies: [
      ["--keep-yearly", "3"],
      ["--keep-monthly", "12", "--keep-yearly", "10"],
      ["--keep-tag", "important", "--keep-last", "1"],
      ["--keep-tag", "a,b", "--keep-weekly", "2"],
    ],
  },
];

async function run(args: string[], env: Record<string, string>): Promise<string> {
  const out = await new Deno.Command("restic", { args, env, stdout: "piped", stderr: "piped" })
    .output();
  if (!out.success) throw new Error(`restic ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

const version = (await run(["version"], {})).trim();
const work = await Deno.makeTempDir();
const out = [];
try {
  await Deno.writeTextFile(`${work}/file`, "x");
  for (const [n, c] of cases.entries()) {
    const env = { RESTIC_REPOSITORY: `${work}/repo${n}`, RESTIC_PASSWORD: "vectors", TZ: ZONE };
    await run(["init"], env);
    for (const [i, t] of c.times.entries()) {
      const tagArgs = c.tags(i).flatMap((tag) => ["--tag", tag]);
      await run(["backup", "--host", "h", "--time", wallClock(t), ...tagArgs, `${work}/file`], env);
    }
    const policies = [];
    for (const args of c.policies) {
      const groups = JSON.parse(await run(["forget", "--dry-run", "--json", ...args], env));
      const keep: number[] = [];
      for (const group of groups) {
        for (const s of group.keep ?? []) keep.push(c.times.indexOf(Date.parse(s.time)));
      }
      if (keep.includes(-1)) throw new Error("restic reported a time that is not in the timeline");
      policies.push({ args, keep: keep.sort((a, b) => a - b) });
    }
    out.push({
      name: c.name,
      snapshots: c.times.map((t, i) => ({ time_ms: t, local: wallClock(t), tags: c.tags(i) })),
      policies,
    });
  }
} finally {
  await Deno.remove(work, { recursive: true });
}
await Deno.writeTextFile(
  new URL("./forget-restic.json", import.meta.url),
  JSON.stringify({ generator: "tests/vectors/make_forget_vectors.ts", restic: version, zone: ZONE, cases: out }, null, 1) + "\n",
);
