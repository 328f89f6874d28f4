/**
 * Backup schedules: when `backup --if-due` should run (FORMAT.md §13,
 * informative part), and the systemd timer or crontab line that calls it
 * every hour. Pure functions: the caller supplies the clock and writes files.
 *
 * @module
 */

import type { Schedule } from "./settings.ts";

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/**
 * A backup is due this much before a full period has passed, so that an
 * hourly timer firing at :00 does not find yesterday's backup (which started
 * at :00 and a few seconds) 23 h 59 min old and push today's an hour later.
 */
export const SCHEDULE_SLACK_MS = 5 * 60_000;

/** Whether a backup is due, and when the next one will be. */
export interface DueStatus {
  schedule: Schedule;
  due: boolean;
  /** Time of the newest snapshot of the same host and paths, or null. */
  lastMs: number | null;
  /** When a backup becomes due (ms); null when the schedule is off. */
  nextMs: number | null;
}

/**
 * When a backup becomes due after one taken at `lastMs`: a day or a week
 * later, or one calendar month later in local time (31 January → 28 or 29
 * February), less the slack. Null when the schedule is off.
 */
export function nextDueMs(schedule: Schedule, lastMs: number): number | null {
  switch (schedule) {
    case "off":
      return null;
    case "daily":
      return lastMs + DAY_MS - SCHEDULE_SLACK_MS;
    case "weekly":
      return lastMs + 7 * DAY_MS - SCHEDULE_SLACK_MS;
    case "monthly":
      return addMonthLocal(lastMs) - SCHEDULE_SLACK_MS;
  }
}

function addMonthLocal(ms: number): number {
  const d = new Date(ms);
  const year = d.getFullYear() + (d.getMonth() === 11 ? 1 : 0);
  const month = (d.getMonth() + 1) % 12;
  const lastDay = new Date(year, month + 1, 0).getDate();
  return new Date(
    year,
    month,
    Math.min(d.getDate(), lastDay),
    d.getHours(),
    d.getMinutes(),
    d.getSeconds(),
    d.getMilliseconds(),
  ).getTime();
}

/** Whether a backup is due at `nowMs` given the last one (null: never backed up). */
export function dueStatus(schedule: Schedule, lastMs: number | null, nowMs: number): DueStatus {
  if (schedule === "off") return { schedule, due: false, lastMs, nextMs: null };
  if (lastMs === null) return { schedule, due: true, lastMs, nextMs: nowMs };
  const nextMs = nextDueMs(schedule, lastMs)!;
  return { schedule, due: nowMs >= nextMs, lastMs, nextMs };
}

/** What a timer runs, and what to call it. */
export interface TimerSpec {
  /** Unit and marker name, e.g. `cofre-backup-1a2b3c4d`. */
  name: string;
  /** The program and its arguments (absolute paths). */
  command: string[];
  /** One line for humans. */
  description: string;
}

/** Quotes one argument for a systemd `ExecStart=` line (systemd.service(5), "Command lines"). */
function systemdQuote(arg: string): string {
  const escaped = arg.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/%/g, "%%")
    .replace(/\$/g, "$$$$");
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? escaped : `"${escaped}"`;
}

/** A systemd user service that runs the command once, and a timer that starts it hourly. */
export function systemdUnits(spec: TimerSpec): { service: string; timer: string } {
  if (spec.command.some((arg) => /[\n\r\0]/.test(arg))) {
    throw new RangeError("Cannot write the timer: an argument contains a line break");
  }
  const service = [
    "[Unit]",
    `Description=${spec.description}`,
    "After=network-online.target",
    "Wants=network-online.target",
    "",
    "[Service]",
    "Type=oneshot",
    // Exit 3 (some files unreadable) still made a snapshot: not a failed run.
    "SuccessExitStatus=3",
    "Nice=10",
    "IOSchedulingClass=idle",
    `ExecStart=${spec.command.map(systemdQuote).join(" ")}`,
    "",
  ].join("\n");
  const timer = [
    "[Unit]",
    `Description=Run ${spec.name} every hour (it backs up only when due)`,
    "",
    "[Timer]",
    "OnCalendar=hourly",
    "RandomizedDelaySec=10min",
    // A run missed while the machine was off happens at the next boot.
    "Persistent=true",
    "",
    "[Install]",
    "WantedBy=timers.target",
    "",
  ].join("\n");
  return { service, timer };
}

/** Quotes one argument for the POSIX shell that cron runs, `%` escaped as crontab(5) needs. */
function cronQuote(arg: string): string {
  const quoted = /^[A-Za-z0-9_@+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, "'\\''")}'`;
  return quoted.replace(/%/g, "\\%");
}

/**
 * A crontab line that runs the command hourly, at a minute taken from the
 * name so that many repositories do not all start at :00. The trailing
 * comment marks the line as this timer's, so installing again replaces it.
 */
export function crontabLine(spec: TimerSpec): string {
  if (spec.command.some((arg) => /[\n\r\0]/.test(arg))) {
    throw new RangeError("Cannot write the crontab line: an argument contains a line break");
  }
  let hash = 0;
  for (const c of spec.name) hash = (hash * 31 + c.charCodeAt(0)) >>> 0;
  return `${hash % 60} * * * * ${spec.command.map(cronQuote).join(" ")} # ${spec.name}`;
}

/** A crontab with the timer's line added, replacing an earlier line of the same timer. */
export function updateCrontab(current: string, spec: TimerSpec): string {
  const marker = ` # ${spec.name}`;
  const kept = current.split("\n").filter((line) => line !== "" && !line.endsWith(marker));
  return [...kept, crontabLine(spec)].join("\n") + "\n";
}
