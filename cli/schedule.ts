// `cofre schedule set|show|install`: backups on a schedule (DESIGN.md §1.5).
// The schedule lives in the repository (FORMAT.md §13), so every device
// follows it; a timer calls `backup --if-due` hourly and the repository
// decides whether a backup is due.

import { Command, InvalidArgumentError, Option } from "@commander-js/extra-typings";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  crontabLine,
  type DueStatus,
  dueStatus,
  type Schedule,
  SCHEDULES,
  type StoredSnapshot,
  systemdUnits,
  type TimerSpec,
  updateCrontab,
} from "../mod.ts";
import { formatTime } from "./_progress.ts";
import { type RepositoryOptions, withRepository } from "./_secrets.ts";
import { type CliContext, EXIT_OK, type Io, UsageError } from "./_ui.ts";

const collect = (value: string, previous: string[]) => [...previous, value];
const formatLocal = (ms: number) => formatTime(ms, { seconds: false });

function scheduleArgument(value: string): Schedule {
  if (!SCHEDULES.includes(value as Schedule)) {
    throw new InvalidArgumentError(`expected one of ${SCHEDULES.join(", ")}`);
  }
  return value as Schedule;
}

/** One line saying whether a backup is due and when the next one will be. */
export function describeDue(status: DueStatus, nowMs: number): string {
  if (status.schedule === "off") {
    return "No schedule is set (cofre schedule set daily|weekly|monthly): nothing to do.";
  }
  if (status.lastMs === null) return `Due: no ${status.schedule} backup of these paths yet.`;
  const ago = formatAge(nowMs - status.lastMs);
  return status.due
    ? `Due: the last backup of these paths was ${ago} ago (${status.schedule}).`
    : `Not due: the last backup of these paths was ${ago} ago; the next ${status.schedule} ` +
      `backup is due after ${formatLocal(status.nextMs!)}.`;
}

function formatAge(ms: number): string {
  const minutes = Math.max(0, Math.round(ms / 60_000));
  if (minutes < 120) return `${minutes} min`;
  const hours = Math.round(minutes / 60);
  return hours < 48 ? `${hours} h` : `${Math.round(hours / 24)} days`;
}

export function scheduleCommand(context: CliContext) {
  const { io, done } = context;
  const now = () => context.testOnly?.now?.() ?? Date.now();
  const schedule = new Command("schedule")
    .description("back up daily, weekly or monthly (the schedule is kept in the repository)")
    .addHelpText(
      "after",
      "\nThe schedule is stored in the repository, so every device follows it. A timer runs\n" +
        "'cofre backup --if-due PATH...' every hour; it backs up only when the newest snapshot\n" +
        "of those paths on this host is a period old.\n\n" +
        "Example:\n  cofre -r /backups/phone schedule set daily\n" +
        "  cofre -r /backups/phone --password-file ~/.cofre-pw schedule install ~/chat --write",
    );

  schedule.command("set")
    .description("set the schedule: daily, weekly, monthly or off")
    .argument("<schedule>", "daily | weekly | monthly | off", scheduleArgument)
    .action(async (value, _options, command) => {
      await withRepository(
        command,
        io,
        (repository) => repository.updateSettings({ schedule: value }),
      );
      io.stdout(
        value === "off"
          ? "Schedule: off. 'backup --if-due' will do nothing; plain 'backup' still works.\n"
          : `Schedule: ${value}. Run 'cofre schedule install PATH...' to have this machine ` +
            "back up on it.\n",
      );
      done(EXIT_OK);
    });

  schedule.command("show")
    .description("show the schedule and when each set of paths is next due")
    .option("--json", "print JSON")
    .action(async (options, command) => {
      const nowMs = now();
      const { stored, groups } = await withRepository(command, io, async (repository) => {
        const stored = await repository.settings();
        return { stored, groups: latestPerGroup(await repository.snapshots()) };
      });
      for (const d of stored.damaged) io.stderr(`warning: ignored settings: ${d.reason}\n`);
      const value = stored.settings.schedule;
      const due = groups.map((s) => ({
        host: s.snapshot.host,
        paths: s.snapshot.paths,
        status: dueStatus(value, s.snapshot.timeMs, nowMs),
      }));
      if (options.json) {
        io.stdout(
          JSON.stringify({
            schedule: value,
            set_ms: stored.timeMs,
            backups: due.map((d) => ({
              host: d.host,
              paths: d.paths,
              last_ms: d.status.lastMs,
              next_ms: d.status.nextMs,
              due: d.status.due,
            })),
          }) + "\n",
        );
      } else {
        const since = stored.timeMs === null ? "" : ` (set ${formatLocal(stored.timeMs)})`;
        io.stdout(`Schedule: ${value}${since}\n`);
        for (const d of due) {
          const next = d.status.nextMs === null
            ? ""
            : d.status.due
            ? ", due now"
            : `, next after ${formatLocal(d.status.nextMs)}`;
          io.stdout(
            `  ${d.host} ${d.paths.join(" ")}: last ${formatLocal(d.status.lastMs!)}${next}\n`,
          );
        }
        if (due.length === 0) io.stdout("  no backups yet\n");
      }
      done(EXIT_OK);
    });

  schedule.command("install")
    .description("print (or write with --write) an hourly systemd timer or crontab line")
    .argument("<paths...>", "files and folders the timer backs up")
    .option("--tag <tag>", "label the snapshots (repeatable)", collect, [] as string[])
    .option("--exclude <glob>", "skip matching paths (repeatable)", collect, [] as string[])
    .addOption(
      new Option("--system <kind>", "timer kind (auto: systemd when it runs, else cron)")
        .choices(["auto", "systemd", "cron"] as const).default("auto" as const),
    )
    .option("--write", "install it (systemd user units, or this user's crontab)")
    .addHelpText(
      "after",
      "\nA timer cannot type a password: give --password-file (or --recovery-key-file) with a\n" +
        "file readable only by you (chmod 600). The timer runs 'backup --if-due' hourly.",
    )
    .action(async (paths, options, command) => {
      const global = command.optsWithGlobals() as RepositoryOptions;
      const secretFile = global.passwordFile ?? global.recoveryKeyFile;
      if (!secretFile) {
        throw new UsageError(
          "Cannot install the schedule: a timer cannot type the password; give --password-file " +
            "FILE (readable only by you: chmod 600) or --recovery-key-file FILE",
        );
      }
      const mode = (await Deno.stat(secretFile).catch(() => null))?.mode ?? 0;
      if (mode & 0o077) {
        io.stderr(
          `warning: ${secretFile} can be read by other users; restrict it: chmod 600 ${secretFile}\n`,
        );
      }
      const location = global.repo ?? io.env("COFRE_REPOSITORY");
      const { id, value } = await withRepository(command, io, async (repository) => ({
        id: repository.id,
        value: (await repository.settings()).settings.schedule,
      }));
      const spec = timerSpec({
        id,
        location: location!,
        secret: [global.passwordFile ? "--password-file" : "--recovery-key-file", secretFile],
        account: global.account ?? io.env("COFRE_ACCOUNT"),
        paths,
        tags: options.tag,
        excludes: options.exclude,
      });
      const kind = options.system === "auto"
        ? (await exists("/run/systemd/system") ? "systemd" : "cron")
        : options.system;
      if (value === "off") {
        io.stderr(
          "warning: the schedule is off, so the timer will do nothing until " +
            "'cofre schedule set daily' (or weekly, monthly)\n",
        );
      }
      if (kind === "systemd") await installSystemd(spec, options.write === true, io);
      else await installCron(spec, options.write === true, io);
      done(EXIT_OK);
    });
  return schedule;
}

/** The newest snapshot of each host and set of paths. */
function latestPerGroup(snapshots: StoredSnapshot[]): StoredSnapshot[] {
  const newest = new Map<string, StoredSnapshot>();
  for (const s of snapshots) {
    const key = JSON.stringify([s.snapshot.host, s.snapshot.paths]);
    const seen = newest.get(key);
    if (!seen || s.snapshot.timeMs > seen.snapshot.timeMs) newest.set(key, s);
  }
  return [...newest.values()];
}

function timerSpec(o: {
  id: string;
  location: string;
  secret: [string, string];
  account: string | undefined;
  paths: string[];
  tags: string[];
  excludes: string[];
}): TimerSpec {
  const cliDir = dirname(fileURLToPath(import.meta.url));
  // A timer starts in another folder: every path must be absolute.
  const repo = /^(s3|rclone):/.test(o.location) || isAbsolute(o.location)
    ? o.location
    : resolve(o.location);
  return {
    name: `cofre-backup-${o.id.slice(0, 8)}`,
    description: `Cofre backup of ${o.paths.join(" ")} into ${repo}`,
    command: [
      Deno.execPath(),
      "run",
      "--allow-all",
      "--quiet",
      // As deno.json's `cofre` task runs it: small young generations keep a
      // backup's V8 heaps (main thread, a worker per core) inside 300 MiB.
      "--v8-flags=--max-semi-space-size=1",
      "--config",
      join(cliDir, "..", "deno.json"),
      join(cliDir, "main.ts"),
      "--repo",
      repo,
      o.secret[0],
      resolve(o.secret[1]),
      ...(o.account ? ["--account", o.account] : []),
      "backup",
      "--if-due",
      ...o.tags.flatMap((t) => ["--tag", t]),
      ...o.excludes.flatMap((e) => ["--exclude", e]),
      ...o.paths.map((p) => resolve(p)),
    ],
  };
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

async function installSystemd(spec: TimerSpec, write: boolean, io: Io): Promise<void> {
  const { service, timer } = systemdUnits(spec);
  const home = io.env("HOME");
  const configHome = io.env("XDG_CONFIG_HOME") || (home ? join(home, ".config") : undefined);
  if (!configHome) {
    throw new UsageError("Cannot install the timer: neither HOME nor XDG_CONFIG_HOME is set");
  }
  const dir = join(configHome, "systemd", "user");
  const enable =
    `systemctl --user daemon-reload && systemctl --user enable --now ${spec.name}.timer`;
  if (!write) {
    io.stdout(
      `# ${dir}/${spec.name}.service\n${service}\n# ${dir}/${spec.name}.timer\n${timer}\n` +
        `# Then: ${enable}\n# (cofre schedule install --write does the writing for you)\n`,
    );
    return;
  }
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(join(dir, `${spec.name}.service`), service);
  await Deno.writeTextFile(join(dir, `${spec.name}.timer`), timer);
  io.stdout(
    `Wrote ${dir}/${spec.name}.service and .timer.\nNow run: ${enable}\n` +
      "To keep it running while you are logged out: loginctl enable-linger\n",
  );
}

async function installCron(spec: TimerSpec, write: boolean, io: Io): Promise<void> {
  const line = crontabLine(spec);
  if (!write) {
    io.stdout(`${line}\n# Add it with 'crontab -e', or run this command again with --write.\n`);
    return;
  }
  const crontab = findProgram("crontab", io.env("PATH") ?? "");
  if (!crontab) {
    throw new UsageError(
      "Cannot install the crontab line: no crontab program (install cron, or add the line " +
        "printed without --write to your scheduler)",
    );
  }
  const listed = await new Deno.Command(crontab, { args: ["-l"], stdout: "piped", stderr: "piped" })
    .output();
  // `crontab -l` fails when the user has no crontab yet: start from an empty one.
  const current = listed.success ? new TextDecoder().decode(listed.stdout) : "";
  const child = new Deno.Command(crontab, { args: ["-"], stdin: "piped", stderr: "piped" }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(updateCrontab(current, spec)));
  await writer.close();
  const result = await child.output();
  if (!result.success) {
    throw new Error(
      `Cannot install the crontab line: crontab said ${
        new TextDecoder().decode(result.stderr).trim()
      }`,
    );
  }
  io.stdout(`Added to your crontab (runs hourly, backs up when due):\n${line}\n`);
}

/** The absolute path of `name` on `path` (a PATH value), or null. */
function findProgram(name: string, path: string): string | null {
  for (const dir of path.split(":")) {
    if (!dir) continue;
    try {
      const info = Deno.statSync(join(dir, name));
      if (info.isFile && (info.mode ?? 0o111) & 0o111) return join(dir, name);
    } catch {
      // not in this folder
    }
  }
  return null;
}
