import fc from "fast-check";
import { applyPolicy, isoWeek, type RetentionPolicy } from "../src/forget.ts";
import { assertEquals, assertThrows } from "./_assert.ts";

interface Item {
  id: string;
  timeMs: number;
  host: string;
  paths: readonly string[];
  tags: readonly string[];
}

const HOUR = 3_600_000;

/**
 * The reference model, straight from restic's documentation: per group, for
 * each keep-* rule with count N, list the distinct periods that have
 * snapshots, newest first; keep the newest snapshot of each of the first N.
 * keep-tag keeps every snapshot with all tags of a list. Periods are read at
 * a fixed offset from UTC, with an ISO week computed by ordinal day.
 */
function reference(items: Item[], policy: RetentionPolicy, offsetMs: number): Set<string> {
  const kept = new Set<string>();
  const groups = new Map<string, Item[]>();
  for (const item of items) {
    const key = `${item.host}\0${[...item.paths].sort().join("\0")}`;
    groups.set(key, [...(groups.get(key) ?? []), item]);
  }
  const period = (rule: string, item: Item): string => {
    const d = new Date(item.timeMs + offsetMs);
    const [y, m, day, h] = [d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours()];
    switch (rule) {
      case "last":
        return item.id;
      case "hourly":
        return `${y} ${m} ${day} ${h}`;
      case "daily":
        return `${y} ${m} ${day}`;
      case "weekly":
        return referenceIsoWeek(y, m, day);
      case "monthly":
        return `${y} ${m}`;
      default:
        return `${y}`;
    }
  };
  for (const group of groups.values()) {
    const newestFirst = [...group].sort((a, b) => b.timeMs - a.timeMs || (a.id < b.id ? -1 : 1));
    for (const rule of ["last", "hourly", "daily", "weekly", "monthly", "yearly"] as const) {
      const n = policy[rule] ?? 0;
      const seen = new Set<string>();
      for (const item of newestFirst) {
        const p = period(rule, item);
        if (seen.has(p)) continue;
        if (seen.size === n) break;
        seen.add(p);
        kept.add(item.id);
      }
    }
    for (const item of group) {
      if (policy.tags?.some((list) => list.every((t) => item.tags.includes(t)))) kept.add(item.id);
    }
  }
  return kept;
}

/** ISO week by ordinal day: week = ⌊(ordinal − weekday + 10) / 7⌋, fixed up at year ends. */
function referenceIsoWeek(y: number, m: number, d: number): string {
  const ordinal = (year: number, month: number, day: number) =>
    (Date.UTC(year, month, day) - Date.UTC(year, 0, 1)) / 86_400_000 + 1;
  const weekday = (year: number, month: number, day: number) =>
    new Date(Date.UTC(year, month, day)).getUTCDay() || 7;
  const weeksIn = (year: number) => {
    const jan1 = weekday(year, 0, 1);
    const leap = ordinal(year, 11, 31) === 366;
    return jan1 === 4 || (leap && jan1 === 3) ? 53 : 52;
  };
  const w = Math.floor((ordinal(y, m, d) - weekday(y, m, d) + 10) / 7);
  if (w < 1) return `${y - 1} ${weeksIn(y - 1)}`;
  if (w > weeksIn(y)) return `${y + 1} 1`;
  return `${y} ${w}`;
}

const itemsArbitrary = fc.array(
  fc.record({
    // 2019..2023, so the year, month and ISO week-53 boundaries all occur.
    timeMs: fc.integer({ min: 1_546_300_800_000, max: 1_704_067_200_000 }),
    host: fc.constantFrom("a", "b"),
    paths: fc.constantFrom(["/x"], ["/y"], ["/x", "/y"], ["/y", "/x"]),
    tags: fc.subarray(["t", "u"]),
    // Clusters: many snapshots within hours or days of each other.
    cluster: fc.integer({ min: 0, max: 3 }),
  }),
  { maxLength: 60 },
).map((raw) => {
  let previous = raw[0]?.timeMs ?? 0;
  return raw.map((r, i) => {
    const spread = [HOUR / 6, 5 * HOUR, 80 * HOUR, 0][r.cluster]!;
    const timeMs = spread ? previous + (r.timeMs % spread) : r.timeMs;
    previous = timeMs;
    return {
      id: `s${String(i).padStart(3, "0")}`,
      timeMs,
      host: r.host,
      paths: r.paths,
      tags: r.tags,
    };
  });
});

const policyArbitrary = fc.record({
  last: fc.nat(5),
  hourly: fc.nat(6),
  daily: fc.nat(8),
  weekly: fc.nat(6),
  monthly: fc.nat(13),
  yearly: fc.nat(4),
  tags: fc.subarray([["t"], ["t", "u"], ["u"]]),
}, { requiredKeys: [] });

Deno.test("applyPolicy() keeps what restic's documented rules keep (property)", () => {
  for (const [zone, offsetMs] of [["UTC", 0], ["Etc/GMT-5", 5 * HOUR]] as const) {
    fc.assert(
      fc.property(itemsArbitrary, policyArbitrary, (items, policy) => {
        const groups = applyPolicy(items, policy, { timeZone: zone });
        const kept = groups.flatMap((g) => g.decisions.filter((d) => d.keep))
          .map((d) => d.snapshot.id).sort();
        assertEquals(kept, [...reference(items, policy, offsetMs)].sort());
        // Every snapshot gets exactly one decision, and only kept ones have reasons.
        const all = groups.flatMap((g) => g.decisions);
        assertEquals(all.length, items.length);
        for (const d of all) assertEquals(d.keep, d.reasons.length > 0);
      }),
      { numRuns: 300 },
    );
  }
});

Deno.test("applyPolicy() matches restic 0.14 on the golden timelines", async (t) => {
  const vectors = JSON.parse(
    await Deno.readTextFile(new URL("./vectors/forget-restic.json", import.meta.url)),
  );
  for (const c of vectors.cases) {
    const items: Item[] = c.snapshots.map((s: { time_ms: number; tags: string[] }, i: number) => ({
      id: String(i),
      timeMs: s.time_ms,
      host: "h",
      paths: ["/file"],
      tags: s.tags,
    }));
    for (const p of c.policies) {
      await t.step(`${c.name}: ${p.args.join(" ")}`, () => {
        const policy: RetentionPolicy = { tags: [] };
        for (let i = 0; i < p.args.length; i += 2) {
          const rule = p.args[i].slice("--keep-".length);
          if (rule === "tag") policy.tags!.push(p.args[i + 1].split(","));
          else policy[rule as "daily"] = Number(p.args[i + 1]);
        }
        const [group] = applyPolicy(items, policy, { timeZone: vectors.zone });
        const kept = group!.decisions.filter((d) => d.keep).map((d) => Number(d.snapshot.id));
        assertEquals(kept.sort((a, b) => a - b), p.keep);
      });
    }
  }
});

Deno.test("applyPolicy() groups by host and paths unless told otherwise", () => {
  const items = [
    { id: "1", timeMs: 1, host: "a", paths: ["/x"], tags: [] },
    { id: "2", timeMs: 2, host: "b", paths: ["/x"], tags: [] },
    { id: "3", timeMs: 3, host: "a", paths: ["/x"], tags: [] },
  ];
  const byHost = applyPolicy(items, { last: 1 });
  assertEquals(byHost.map((g) => g.decisions.map((d) => [d.snapshot.id, d.keep])), [
    [["3", true], ["1", false]],
    [["2", true]],
  ]);
  const one = applyPolicy(items, { last: 1 }, { groupBy: [] });
  assertEquals(one.length, 1);
  assertEquals(one[0]!.decisions.map((d) => d.reasons), [["last"], [], []]);
});

Deno.test("applyPolicy() refuses negative counts", () => {
  assertThrows(() => applyPolicy([], { daily: -1 }), RangeError);
});

Deno.test("isoWeek() agrees with the ordinal-day reference over 2000..2040", () => {
  for (let t = Date.UTC(2000, 0, 1); t < Date.UTC(2040, 0, 1); t += 86_400_000) {
    const d = new Date(t);
    const [y, w] = isoWeek(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate());
    assertEquals(
      `${y} ${w}`,
      referenceIsoWeek(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()),
    );
  }
});
