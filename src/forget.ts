/**
 * Retention policy (`cofre forget`): which snapshots a policy keeps, with
 * restic's selection rules, as pure logic (no I/O). The repository writes the
 * tombstones (FORMAT.md §12.3); this module only decides.
 *
 * restic's rules: snapshots are grouped (by default by host and paths); in
 * each group, walked newest first, each keep-* rule keeps the newest snapshot
 * of each of its last N distinct periods (hours, days, ISO weeks, months,
 * years; "last" counts snapshots) that have snapshots; keep-tag keeps every
 * snapshot carrying a tag list; a snapshot kept by any rule is kept.
 *
 * Periods are read in a time zone: restic uses the offset recorded with each
 * snapshot, Cofre stores UTC milliseconds only and reads them in one zone,
 * the local one unless `timeZone` says otherwise. Both agree when the
 * snapshots were taken in the zone forget runs in.
 *
 * @module
 */

/** How many periods of each kind to keep; absent or 0 keeps none by that rule. */
export interface RetentionPolicy {
  last?: number;
  hourly?: number;
  daily?: number;
  weekly?: number;
  monthly?: number;
  yearly?: number;
  /**
   * Tag lists: a snapshot is kept when it carries every tag of at least one
   * list (`--keep-tag a,b --keep-tag c`: a and b, or c).
   */
  tags?: string[][];
}

/** What a snapshot is grouped by; restic's default is host and paths. */
export type GroupField = "host" | "paths" | "tags";

/** What forget needs to know of a snapshot. */
export interface RetentionCandidate {
  id: string;
  timeMs: number;
  host: string;
  paths: readonly string[];
  tags: readonly string[];
}

/** The rules, in the order restic applies and reports them. */
export const RETENTION_RULES = ["last", "hourly", "daily", "weekly", "monthly", "yearly"] as const;
export type RetentionRule = typeof RETENTION_RULES[number];

/** One snapshot's fate and the rules that keep it ("tag" for keep-tag). */
export interface RetentionDecision<T> {
  snapshot: T;
  keep: boolean;
  reasons: (RetentionRule | "tag")[];
}

/** One group's decisions, newest first. */
export interface RetentionGroup<T> {
  host?: string;
  paths?: string[];
  tags?: string[];
  decisions: RetentionDecision<T>[];
}

export interface ApplyPolicyOptions {
  /** Fields to group by; `[]` puts every snapshot in one group. Default host and paths. */
  groupBy?: readonly GroupField[];
  /** IANA zone the periods are read in; default the local zone. */
  timeZone?: string;
}

/** True when the policy keeps nothing by any rule (restic refuses to act on it). */
export function isEmptyPolicy(policy: RetentionPolicy): boolean {
  return RETENTION_RULES.every((rule) => !policy[rule]) && !(policy.tags?.length);
}

/**
 * Applies `policy` to `snapshots` (any order). Returns the groups, each with
 * every snapshot's decision, newest first.
 *
 * @example
 * ```ts
 * import { applyPolicy } from "./forget.ts";
 * const day = 86_400_000;
 * const snapshots = [0, 1, 2].map((i) => ({
 *   id: `s${i}`, timeMs: i * day, host: "h", paths: ["/p"], tags: [],
 * }));
 * const [group] = applyPolicy(snapshots, { daily: 2 }, { timeZone: "UTC" });
 * console.assert(group!.decisions.map((d) => d.keep).join() === "true,true,false");
 * ```
 */
export function applyPolicy<T extends RetentionCandidate>(
  snapshots: readonly T[],
  policy: RetentionPolicy,
  options: ApplyPolicyOptions = {},
): RetentionGroup<T>[] {
  for (const rule of RETENTION_RULES) {
    const n = policy[rule] ?? 0;
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new RangeError(`Cannot apply the policy: keep-${rule} ${n}, expected a count ≥ 0`);
    }
  }
  const groupBy = options.groupBy ?? ["host", "paths"];
  const periods = new PeriodReader(options.timeZone);
  const groups = new Map<string, RetentionGroup<T>>();
  for (const snapshot of snapshots) {
    const key: Omit<RetentionGroup<T>, "decisions"> = {};
    if (groupBy.includes("host")) key.host = snapshot.host;
    if (groupBy.includes("paths")) key.paths = [...snapshot.paths].sort();
    if (groupBy.includes("tags")) key.tags = [...snapshot.tags].sort();
    const name = JSON.stringify([key.host, key.paths, key.tags]);
    let group = groups.get(name);
    if (!group) groups.set(name, group = { ...key, decisions: [] });
    group.decisions.push({ snapshot, keep: false, reasons: [] });
  }
  for (const group of groups.values()) {
    // Newest first; equal times by id, so the result does not depend on input order.
    group.decisions.sort((a, b) =>
      b.snapshot.timeMs - a.snapshot.timeMs || (a.snapshot.id < b.snapshot.id ? -1 : 1)
    );
    const left = Object.fromEntries(RETENTION_RULES.map((r) => [r, policy[r] ?? 0]));
    const lastPeriod = new Map<RetentionRule, string>();
    for (const decision of group.decisions) {
      const { snapshot } = decision;
      if (policy.tags?.some((list) => list.every((tag) => snapshot.tags.includes(tag)))) {
        decision.reasons.push("tag");
      }
      const parts = periods.read(snapshot.timeMs);
      for (const rule of RETENTION_RULES) {
        if (left[rule]! <= 0) continue;
        const period = rule === "last" ? snapshot.id : parts[rule];
        // Newest first, so a period's snapshots are consecutive: a new value is a new period.
        if (period === lastPeriod.get(rule)) continue;
        lastPeriod.set(rule, period);
        left[rule]!--;
        decision.reasons.push(rule);
      }
      decision.keep = decision.reasons.length > 0;
    }
  }
  return [...groups.values()];
}

/** Calendar periods of a time, in one zone. */
class PeriodReader {
  readonly #format: Intl.DateTimeFormat;

  constructor(timeZone?: string) {
    this.#format = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
    });
  }

  read(timeMs: number): Record<Exclude<RetentionRule, "last">, string> {
    const part: Record<string, number> = {};
    for (const p of this.#format.formatToParts(new Date(timeMs))) {
      if (p.type !== "literal") part[p.type] = Number(p.value);
    }
    const { year, month, day, hour } = part as Record<string, number>;
    const [weekYear, week] = isoWeek(year!, month!, day!);
    return {
      hourly: `${year}-${month}-${day}T${hour}`,
      daily: `${year}-${month}-${day}`,
      weekly: `${weekYear}-W${week}`,
      monthly: `${year}-${month}`,
      yearly: `${year}`,
    };
  }
}

/** ISO 8601 week-numbering year and week of a calendar date. */
export function isoWeek(year: number, month: number, day: number): [number, number] {
  const date = new Date(Date.UTC(year, month - 1, day));
  const weekday = (date.getUTCDay() + 6) % 7; // Monday = 0
  // The week belongs to the year of its Thursday.
  date.setUTCDate(date.getUTCDate() - weekday + 3);
  const weekYear = date.getUTCFullYear();
  const firstThursday = new Date(Date.UTC(weekYear, 0, 4));
  firstThursday.setUTCDate(firstThursday.getUTCDate() - ((firstThursday.getUTCDay() + 6) % 7) + 3);
  return [weekYear, 1 + Math.round((date.getTime() - firstThursday.getTime()) / (7 * 86_400_000))];
}
