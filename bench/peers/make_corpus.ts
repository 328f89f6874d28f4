// Builds the corpus that bench/peers/run.ts backs up: a folder shaped like a
// chat app's data (an SQLite message store plus a media tree) made from real
// files that Debian packages ship, so compression and deduplication meet the
// data they meet in the field. Everything is seeded, so two builds on machines
// with the same packages give the same bytes and the same mtimes.
//
//   npx deno run -A bench/peers/make_corpus.ts build DIR [--media-mb 400] [--video-mb 320] [--db-mb 150]
//   npx deno run -A bench/peers/make_corpus.ts mutate DIR [--percent 1]
//   npx deno run -A bench/peers/make_corpus.ts summary DIR

import { DatabaseSync } from "node:sqlite";
import { parseArgs } from "node:util";

const MB = 1_000_000;
const KIB = 1024;
const MIB = 1024 * KIB;

/** The packages setup.sh installs for media; their files are found with `dpkg-query -L`. */
export const MEDIA_PACKAGES = [
  "gnome-backgrounds",
  "desktop-base",
  "plasma-workspace-wallpapers",
  "mate-backgrounds",
  "sound-theme-freedesktop",
  "wesnoth-1.16-music",
];

/** Where the fortune-mod data packages put their text. */
export const FORTUNES_DIR = "/usr/share/games/fortunes";

const IMAGE_EXTENSIONS = new Set(["jpg", "jpeg", "png", "webp"]);
const AUDIO_EXTENSIONS = new Set(["ogg", "oga", "opus"]);
const VIDEO_EXTENSIONS = new Set(["mp4", "webm", "ogv", "mkv"]);
// Short clips read as voice notes, long ones as shared music.
const VOICE_MAX_BYTES = 1 * MB;
// 2024-01-01T00:00:00Z: the corpus's files carry dates from here on, never the build time.
const BASE_TIME_MS = Date.UTC(2024, 0, 1);
const DAY_MS = 86_400_000;
// The mtime mutate() gives changed files: after every date the corpus holds.
const MUTATION_TIME_MS = BASE_TIME_MS + 400 * DAY_MS;

export interface CorpusOptions {
  /** Budget for real media copied from packages (MB = 10^6 bytes). */
  mediaMb?: number;
  /** Size of the synthetic, incompressible video-like files. */
  videoMb?: number;
  /** Target size of msgstore.db. */
  dbMb?: number;
  seed?: string;
  /** Packages to take media from; default MEDIA_PACKAGES. */
  packages?: string[];
  /** Directory with fortune files; default FORTUNES_DIR. */
  fortunesDir?: string;
  /** Replace an existing DIR instead of refusing. */
  force?: boolean;
  log?: (line: string) => void;
}

export interface CorpusBreakdown {
  folder: string;
  files: number;
  bytes: number;
}

export interface CorpusSummary {
  dir: string;
  files: number;
  bytes: number;
  breakdown: CorpusBreakdown[];
}

export interface BuildReport extends CorpusSummary {
  seed: string;
  /** Package → files copied from it; "synthetic" when no package had media. */
  mediaSources: Record<string, number>;
  textSource: string;
  messages: number;
}

export interface MutationReport {
  mediaFilesChanged: number;
  mediaFiles: number;
  messagesInserted: number;
  messagesUpdated: number;
  messagesDeleted: number;
  changedPaths: string[];
}

/** A small seeded generator (sfc32) for choices; bulk bytes come from prngBytes(). */
export class Prng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(seed: string) {
    // cyrb128: spreads a string seed over the four 32-bit state words.
    let h1 = 1779033703, h2 = 3144134277, h3 = 1013904242, h4 = 2773480762;
    for (let i = 0; i < seed.length; i++) {
      const k = seed.charCodeAt(i);
      h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
      h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
      h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
      h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
    }
    this.#a = h1 >>> 0;
    this.#b = h2 >>> 0;
    this.#c = h3 >>> 0;
    this.#d = h4 >>> 0;
    for (let i = 0; i < 16; i++) this.nextUint32();
  }

  nextUint32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
}

/**
 * Writes `bytes` seeded pseudo-random bytes to `path`: AES-256-CTR keystream
 * under a key derived from `seed`, because it is incompressible, reproducible
 * and fast enough (hardware AES) for multi-hundred-MB files.
 */
export async function writePrngFile(
  path: string,
  bytes: number,
  seed: string,
  header = new Uint8Array(),
): Promise<void> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(seed));
  const key = await crypto.subtle.importKey("raw", digest, "AES-CTR", false, ["encrypt"]);
  const piece = 8 * MIB;
  const zeros = new Uint8Array(piece);
  using file = await Deno.open(path, { write: true, create: true, truncate: true });
  await writeAll(file, header.subarray(0, Math.min(header.length, bytes)));
  let written = Math.min(header.length, bytes);
  for (let index = 0; written < bytes; index++) {
    const counter = new Uint8Array(16);
    // Each piece starts its own counter block, so pieces never share keystream.
    new DataView(counter.buffer).setUint32(4, index);
    const stream = new Uint8Array(
      await crypto.subtle.encrypt({ name: "AES-CTR", counter, length: 64 }, key, zeros),
    );
    const take = Math.min(piece, bytes - written);
    await writeAll(file, stream.subarray(0, take));
    written += take;
  }
}

async function writeAll(file: Deno.FsFile, data: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < data.length) offset += await file.write(data.subarray(offset));
}

interface MediaSource {
  path: string;
  bytes: number;
  packageName: string;
  kind: "images" | "voice" | "audio" | "video";
  extension: string;
}

function extensionOf(path: string): string {
  const dot = path.lastIndexOf(".");
  return dot < 0 ? "" : path.slice(dot + 1).toLowerCase();
}

/**
 * Lists the regular media files (images, audio, video) that the installed
 * `packages` own, sorted by path. Symlinks are skipped: copying one file twice
 * through a link would hand deduplication a gift that real chats do not give.
 */
export async function findMediaSources(packages = MEDIA_PACKAGES): Promise<MediaSource[]> {
  const sources: MediaSource[] = [];
  for (const packageName of packages) {
    let listing: string;
    try {
      const output = await new Deno.Command("dpkg-query", {
        args: ["-L", packageName],
        stdout: "piped",
        stderr: "null",
      }).output();
      if (!output.success) continue;
      listing = new TextDecoder().decode(output.stdout);
    } catch {
      // No dpkg (not Debian): the caller falls back to synthetic media.
      continue;
    }
    for (const path of listing.split("\n").sort()) {
      const extension = extensionOf(path);
      const isImage = IMAGE_EXTENSIONS.has(extension);
      const isAudio = AUDIO_EXTENSIONS.has(extension);
      const isVideo = VIDEO_EXTENSIONS.has(extension);
      if (!path.startsWith("/usr/share/") || !(isImage || isAudio || isVideo)) continue;
      let info: Deno.FileInfo;
      try {
        info = await Deno.lstat(path);
      } catch {
        continue;
      }
      if (!info.isFile || info.size === 0) continue;
      const kind = isImage
        ? "images"
        : isVideo
        ? "video"
        : info.size <= VOICE_MAX_BYTES
        ? "voice"
        : "audio";
      sources.push({ path, bytes: info.size, packageName, kind, extension });
    }
  }
  return sources;
}

/** Reads every fortune (the text between "%" lines) under `dir`; [] when there is none. */
export async function readFortunes(dir = FORTUNES_DIR): Promise<string[]> {
  const fortunes: string[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(dir)].sort((a, b) => a.name.localeCompare(b.name));
  } catch {
    return fortunes;
  }
  for (const entry of entries) {
    // .dat files are strfile indexes; .u8 names are symlinks to the same text.
    if (!entry.isFile || entry.name.endsWith(".dat")) continue;
    let text: string;
    try {
      text = await Deno.readTextFile(`${dir}/${entry.name}`);
    } catch {
      continue;
    }
    for (const fortune of text.split(/^%$/m)) {
      const trimmed = fortune.trim();
      if (trimmed.length > 0) fortunes.push(trimmed);
    }
  }
  return fortunes;
}

const SYLLABLES = ["ka", "lo", "me", "ni", "su", "ta", "ro", "vi", "de", "pa", "bem", "sim"];

/** Stand-in text for machines without fortunes (CI): word-like, so zstd sees text. */
function syntheticFortunes(prng: Prng, count: number): string[] {
  const fortunes: string[] = [];
  for (let i = 0; i < count; i++) {
    const words: string[] = [];
    const length = 3 + prng.int(30);
    for (let w = 0; w < length; w++) {
      let word = "";
      for (let s = 1 + prng.int(3); s > 0; s--) word += prng.pick(SYLLABLES);
      words.push(word);
    }
    fortunes.push(words.join(" ") + ".");
  }
  return fortunes;
}

function chatText(prng: Prng, fortunes: string[]): string {
  const fortune = prng.pick(fortunes);
  // Chats are mostly one-liners; now and then someone pastes a whole quote.
  if (prng.next() < 0.35) return fortune;
  const lines = fortune.split("\n").map((line) => line.trim()).filter((line) => line.length > 0);
  return lines.length === 0 ? fortune : prng.pick(lines);
}

function datePart(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10).replaceAll("-", "");
}

const SCHEMA = `
  PRAGMA page_size = 4096;
  PRAGMA journal_mode = DELETE;
  CREATE TABLE contacts (
    id INTEGER PRIMARY KEY, phone TEXT NOT NULL UNIQUE, display_name TEXT NOT NULL);
  CREATE TABLE conversations (
    id INTEGER PRIMARY KEY, subject TEXT, created_at INTEGER NOT NULL,
    last_message_at INTEGER NOT NULL DEFAULT 0, unread INTEGER NOT NULL DEFAULT 0);
  CREATE TABLE participants (
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    contact_id INTEGER NOT NULL REFERENCES contacts(id),
    PRIMARY KEY (conversation_id, contact_id)) WITHOUT ROWID;
  CREATE TABLE messages (
    id INTEGER PRIMARY KEY, conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    sender_id INTEGER REFERENCES contacts(id), timestamp INTEGER NOT NULL,
    text TEXT NOT NULL, status INTEGER NOT NULL, starred INTEGER NOT NULL DEFAULT 0,
    media_path TEXT);
  CREATE INDEX messages_conversation_time ON messages(conversation_id, timestamp);
  CREATE INDEX messages_time ON messages(timestamp);
  CREATE INDEX messages_sender ON messages(sender_id);
`;

const FIRST_NAMES = ["Ana", "Bruno", "Carla", "Diego", "Elisa", "Fábio", "Gabi", "Hugo", "Iara"];
const SURNAMES = ["Silva", "Souza", "Costa", "Lima", "Rocha", "Alves", "Nunes", "Pires"];

/**
 * A rollback-journal database of `rows` random 4,000-byte rows at `path`:
 * one 4 KiB page each, nothing compresses, so every page is a chunk of its
 * own (FORMAT.md §7.4). The worst case for a backup's memory, used by
 * bench/large_database.ts and tests/memory_test.ts.
 */
export function buildIncompressibleDatabase(path: string, rows: number): void {
  const db = new DatabaseSync(path);
  try {
    db.exec("PRAGMA journal_mode = DELETE; PRAGMA synchronous = OFF");
    db.exec("CREATE TABLE rows (id INTEGER PRIMARY KEY, body BLOB NOT NULL)");
    const insert = db.prepare("INSERT INTO rows (body) VALUES (?)");
    const random = new Uint8Array(16 * 4000);
    db.exec("BEGIN");
    for (let i = 0; i < rows; i++) {
      if (i % 16 === 0) crypto.getRandomValues(random);
      insert.run(random.subarray((i % 16) * 4000, (i % 16) * 4000 + 4000));
      if (i % 100_000 === 99_999) db.exec("COMMIT; BEGIN");
    }
    db.exec("COMMIT");
  } finally {
    db.close();
  }
}

/**
 * Creates msgstore.db at `path`: contacts, conversations and messages whose
 * text is taken from fortunes, until the file reaches `targetBytes`.
 */
export function buildChatDatabase(
  path: string,
  targetBytes: number,
  options: { seed: string; fortunes: string[]; mediaPaths: string[] },
): number {
  const prng = new Prng(`${options.seed}:db`);
  const db = new DatabaseSync(path);
  try {
    db.exec(SCHEMA);
    const contactCount = 150;
    const conversationCount = 60;
    db.exec("BEGIN");
    const addContact = db.prepare(
      "INSERT INTO contacts (id, phone, display_name) VALUES (?, ?, ?)",
    );
    for (let id = 1; id <= contactCount; id++) {
      const phone = `+55${11 + prng.int(80)}9${String(10_000_000 + id * 7919).slice(0, 8)}`;
      addContact.run(id, phone, `${prng.pick(FIRST_NAMES)} ${prng.pick(SURNAMES)}`);
    }
    const addConversation = db.prepare(
      "INSERT INTO conversations (id, subject, created_at) VALUES (?, ?, ?)",
    );
    const addParticipant = db.prepare(
      "INSERT OR IGNORE INTO participants (conversation_id, contact_id) VALUES (?, ?)",
    );
    const members: number[][] = [];
    for (let id = 1; id <= conversationCount; id++) {
      const group = prng.next() < 0.3;
      addConversation.run(id, group ? `Grupo ${id}` : null, BASE_TIME_MS - 365 * DAY_MS);
      const people = new Set<number>();
      for (let n = group ? 3 + prng.int(12) : 1; n > 0; n--) people.add(1 + prng.int(contactCount));
      members.push([...people]);
      for (const person of people) addParticipant.run(id, person);
    }
    db.exec("COMMIT");

    const addMessage = db.prepare(
      "INSERT INTO messages (conversation_id, sender_id, timestamp, text, status, starred, media_path)" +
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
    );
    const pageCount = db.prepare("PRAGMA page_count");
    const pageSize = Number(
      (db.prepare("PRAGMA page_size").get() as { page_size: number })
        .page_size,
    );
    let time = BASE_TIME_MS - 365 * DAY_MS;
    let messages = 0;
    const batch = 1000;
    for (;;) {
      db.exec("BEGIN");
      for (let i = 0; i < batch; i++) {
        // A few chats carry most of the traffic, as in real life.
        const conversation = 1 + Math.floor(conversationCount * prng.next() ** 2.5);
        const people = members[conversation - 1]!;
        const fromMe = prng.next() < 0.4;
        time += 1000 + prng.int(600_000);
        const media = options.mediaPaths.length > 0 && prng.next() < 0.02
          ? prng.pick(options.mediaPaths)
          : null;
        addMessage.run(
          conversation,
          fromMe ? null : prng.pick(people),
          time,
          chatText(prng, options.fortunes),
          fromMe ? 13 : 0,
          prng.next() < 0.01 ? 1 : 0,
          media,
        );
      }
      messages += batch;
      db.exec("COMMIT");
      const pages = Number((pageCount.get() as { page_count: number }).page_count);
      if (pages * pageSize >= targetBytes) break;
    }
    db.exec(
      "UPDATE conversations SET last_message_at = (SELECT max(timestamp) FROM messages" +
        " WHERE conversation_id = conversations.id)",
    );
    return messages;
  } finally {
    db.close();
  }
}

/** Recursively lists regular files under `dir` as sorted paths relative to it. */
export async function listFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  async function walk(relative: string): Promise<void> {
    for await (const entry of Deno.readDir(relative ? `${dir}/${relative}` : dir)) {
      const path = relative ? `${relative}/${entry.name}` : entry.name;
      if (entry.isDirectory) await walk(path);
      else if (entry.isFile) files.push(path);
    }
  }
  await walk("");
  return files.sort();
}

/** Counts files and bytes under `dir`, per top folder (media/<kind>) and for the database. */
export async function summarizeCorpus(dir: string): Promise<CorpusSummary> {
  const groups = new Map<string, CorpusBreakdown>();
  let files = 0;
  let bytes = 0;
  for (const path of await listFiles(dir)) {
    const size = (await Deno.stat(`${dir}/${path}`)).size;
    const parts = path.split("/");
    const folder = parts[0] === "media" && parts.length > 2 ? `media/${parts[1]}` : parts[0]!;
    const group = groups.get(folder) ?? { folder, files: 0, bytes: 0 };
    group.files++;
    group.bytes += size;
    groups.set(folder, group);
    files++;
    bytes += size;
  }
  const breakdown = [...groups.values()].sort((a, b) => a.folder.localeCompare(b.folder));
  return { dir, files, bytes, breakdown };
}

/** Video-like files: an MP4 `ftyp` box, then incompressible bytes (not a playable video). */
const MP4_HEADER = new Uint8Array([
  0x00,
  0x00,
  0x00,
  0x20,
  0x66,
  0x74,
  0x79,
  0x70,
  0x69,
  0x73,
  0x6f,
  0x6d,
  0x00,
  0x00,
  0x02,
  0x00,
  0x69,
  0x73,
  0x6f,
  0x6d,
  0x69,
  0x73,
  0x6f,
  0x32,
  0x61,
  0x76,
  0x63,
  0x31,
  0x6d,
  0x70,
  0x34,
  0x31,
]);
const JPEG_HEADER = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46]);
const OGG_HEADER = new TextEncoder().encode("OggS");

/**
 * Builds the corpus in `dir` (see the file header). Media come from the
 * installed packages; without any (CI), seeded synthetic images and voice notes
 * stand in so the harness still runs.
 */
export async function buildCorpus(dir: string, options: CorpusOptions = {}): Promise<BuildReport> {
  const seed = options.seed ?? "cofre-peers-1";
  const mediaBudget = Math.round((options.mediaMb ?? 400) * MB);
  const videoBytes = Math.round((options.videoMb ?? 320) * MB);
  const dbBytes = Math.round((options.dbMb ?? 150) * MB);
  const log = options.log ?? (() => {});
  const prng = new Prng(`${seed}:media`);

  const existing = await Deno.stat(dir).catch(() => null);
  if (existing && !options.force) {
    throw new Error(`Cannot build the corpus: ${dir} exists (add --force to replace it)`);
  }
  if (existing) {
    // --force replaces a corpus, never an arbitrary folder given by mistake.
    const entries = [...Deno.readDirSync(dir)].map((entry) => entry.name);
    if (entries.length > 0 && !entries.includes("msgstore.db")) {
      throw new Error(`Cannot build the corpus: ${dir} is not empty and holds no msgstore.db`);
    }
    await Deno.remove(dir, { recursive: true });
  }
  await Deno.mkdir(dir, { recursive: true });

  // Shuffle by a seeded key, then fill the budget first-fit: a small budget
  // still gets a mix of kinds instead of the first package's files only.
  const sources = (await findMediaSources(options.packages)).map((source) => ({
    source,
    key: new Prng(`${seed}:${source.path}`).nextUint32(),
  })).sort((a, b) => a.key - b.key || a.source.path.localeCompare(b.source.path));
  const mediaSources: Record<string, number> = {};
  const mediaPaths: string[] = [];
  const counters = { images: 0, voice: 0, audio: 0, video: 0 };
  const prefixes = { images: "IMG", voice: "PTT", audio: "AUD", video: "VID" };
  let used = 0;
  let time = BASE_TIME_MS;
  const place = async (
    kind: keyof typeof counters,
    extension: string,
    write: (target: string) => Promise<void>,
  ): Promise<string> => {
    time += prng.int(DAY_MS / 2);
    const number = String(++counters[kind]).padStart(5, "0");
    const sent = kind === "images" && prng.next() < 0.3 ? "Sent/" : "";
    const relative = `media/${kind}/${sent}${prefixes[kind]}-${
      datePart(time)
    }-${number}.${extension}`;
    await Deno.mkdir(`${dir}/media/${kind}/${sent}`, { recursive: true });
    await write(`${dir}/${relative}`);
    await Deno.utime(`${dir}/${relative}`, new Date(time), new Date(time));
    mediaPaths.push(relative);
    return relative;
  };
  for (const { source } of sources) {
    if (used + source.bytes > mediaBudget) continue;
    used += source.bytes;
    mediaSources[source.packageName] = (mediaSources[source.packageName] ?? 0) + 1;
    const extension = source.extension === "jpeg" ? "jpg" : source.extension;
    await place(source.kind, extension, (target) => Deno.copyFile(source.path, target));
  }
  if (sources.length === 0) {
    // No media packages: incompressible stand-ins with chat-like sizes.
    log("no media packages installed: using synthetic images and voice notes");
    let index = 0;
    while (used < mediaBudget) {
      const voice = index % 4 === 3;
      const size = Math.min(
        mediaBudget - used,
        voice ? 8 * KIB + prng.int(120 * KIB) : 40 * KIB + prng.int(400 * KIB),
      );
      await place(
        voice ? "voice" : "images",
        voice ? "opus" : "jpg",
        (target) =>
          writePrngFile(
            target,
            size,
            `${seed}:synthetic:${index}`,
            voice ? OGG_HEADER : JPEG_HEADER,
          ),
      );
      used += size;
      index++;
    }
    mediaSources.synthetic = index;
  }
  // Debian ships almost no video, so two seeded files (3/4 and 1/4 of the
  // budget) stand for the multi-hundred-MB videos a phone accumulates.
  if (videoBytes > 0) {
    const sizes = [Math.round(videoBytes * 0.75), videoBytes - Math.round(videoBytes * 0.75)];
    for (const [index, size] of sizes.entries()) {
      if (size <= 0) continue;
      await place(
        "video",
        "mp4",
        (target) => writePrngFile(target, size, `${seed}:video:${index}`, MP4_HEADER),
      );
    }
    mediaSources["synthetic video"] = sizes.filter((size) => size > 0).length;
  }

  let fortunes = await readFortunes(options.fortunesDir);
  const textSource = fortunes.length > 0
    ? `${options.fortunesDir ?? FORTUNES_DIR} (${fortunes.length} fortunes)`
    : "synthetic words (no fortunes installed)";
  if (fortunes.length === 0) fortunes = syntheticFortunes(new Prng(`${seed}:words`), 5000);
  log(`building msgstore.db (${(dbBytes / MB).toFixed(0)} MB) from ${textSource}`);
  const messages = buildChatDatabase(`${dir}/msgstore.db`, dbBytes, {
    seed,
    fortunes,
    mediaPaths,
  });
  await Deno.utime(`${dir}/msgstore.db`, new Date(time), new Date(time));

  const summary = await summarizeCorpus(dir);
  return { ...summary, seed, mediaSources, textSource, messages };
}

/**
 * Changes about `percent` % of the media files in place (alternately
 * overwriting 4 KiB in the middle and appending 64 KiB) and adds, edits and
 * deletes messages in msgstore.db through SQLite, so the database's pages
 * change the way an app changes them. Deterministic for a given corpus state.
 */
export async function mutateCorpus(
  dir: string,
  options: { percent?: number; seed?: string } = {},
): Promise<MutationReport> {
  const percent = options.percent ?? 1;
  const seed = options.seed ?? "cofre-peers-1";
  const prng = new Prng(`${seed}:mutate`);
  const media = (await listFiles(dir)).filter((path) => path.startsWith("media/"));
  const count = Math.max(1, Math.round(media.length * percent / 100));
  const chosen = new Set<string>();
  while (chosen.size < Math.min(count, media.length)) chosen.add(media[prng.int(media.length)]!);
  const changedPaths = [...chosen].sort();
  for (const [index, path] of changedPaths.entries()) {
    const full = `${dir}/${path}`;
    const size = (await Deno.stat(full)).size;
    const patch = new Uint8Array(index % 2 === 0 ? 4 * KIB : 64 * KIB);
    for (let i = 0; i < patch.length; i += 4) {
      new DataView(patch.buffer).setUint32(i, prng.nextUint32());
    }
    using file = await Deno.open(full, { read: true, write: true });
    if (index % 2 === 0) {
      await file.seek(Math.max(0, Math.floor(size / 2) - patch.length / 2), Deno.SeekMode.Start);
    } else {
      await file.seek(0, Deno.SeekMode.End);
    }
    await writeAll(file, patch);
  }

  const dbPath = `${dir}/msgstore.db`;
  let inserted = 0, updated = 0, deleted = 0;
  if (await Deno.stat(dbPath).catch(() => null)) {
    const db = new DatabaseSync(dbPath);
    try {
      const stats = db.prepare(
        "SELECT count(*) AS n, max(id) AS top, max(timestamp) AS t FROM messages",
      ).get() as { n: number; top: number; t: number };
      const total = Number(stats.n);
      const top = Number(stats.top);
      let time = Number(stats.t);
      const conversations = Number(
        (db.prepare("SELECT count(*) AS n FROM conversations").get() as { n: number }).n,
      );
      db.exec("BEGIN");
      const insert = db.prepare(
        "INSERT INTO messages (conversation_id, sender_id, timestamp, text, status, starred)" +
          " VALUES (?, NULL, ?, ?, 0, 0)",
      );
      const texts = (db.prepare(
        "SELECT text FROM messages WHERE id % 97 = 0 LIMIT 2000",
      ).all() as { text: string }[]).map((row) => row.text);
      for (let i = Math.max(10, Math.round(total * 0.005)); i > 0; i--) {
        time += 1000 + prng.int(120_000);
        insert.run(1 + prng.int(conversations), time, texts.length ? prng.pick(texts) : "ok");
        inserted++;
      }
      // Read receipts and stars touch old rows all over the table.
      const touch = db.prepare("UPDATE messages SET status = 13, starred = ? WHERE id = ?");
      for (let i = Math.max(10, Math.round(total * 0.005)); i > 0; i--) {
        updated += Number(touch.run(prng.int(2), 1 + prng.int(top)).changes);
      }
      const remove = db.prepare("DELETE FROM messages WHERE id = ?");
      for (let i = Math.max(2, Math.round(total * 0.0005)); i > 0; i--) {
        deleted += Number(remove.run(1 + prng.int(top)).changes);
      }
      db.exec("COMMIT");
    } finally {
      db.close();
    }
    changedPaths.push("msgstore.db");
  }
  const when = new Date(MUTATION_TIME_MS);
  for (const path of changedPaths) await Deno.utime(`${dir}/${path}`, when, when);
  return {
    mediaFilesChanged: chosen.size,
    mediaFiles: media.length,
    messagesInserted: inserted,
    messagesUpdated: updated,
    messagesDeleted: deleted,
    changedPaths,
  };
}

/**
 * Adds `count` chat messages to the database at `dbPath` in one transaction,
 * with random keys: timestamps anywhere in the history (messages synced late
 * from a linked device), random conversations and senders. The indexes on
 * (conversation, time), time and sender, whose pages interleave with the
 * table's all over the file, then take entries everywhere, as an app's
 * random message keys do. Seeded: the same database gives the same bytes.
 */
export function addMessages(
  dbPath: string,
  options: { count?: number; seed?: string } = {},
): { inserted: number } {
  const count = options.count ?? 2000;
  const prng = new Prng(`${options.seed ?? "cofre-peers-1"}:messages`);
  const db = new DatabaseSync(dbPath);
  try {
    const range = db.prepare(
      "SELECT min(timestamp) AS lo, max(timestamp) AS hi FROM messages",
    ).get() as { lo: number; hi: number };
    const conversations = Number(
      (db.prepare("SELECT count(*) AS n FROM conversations").get() as { n: number }).n,
    );
    const contacts = Number(
      (db.prepare("SELECT count(*) AS n FROM contacts").get() as { n: number }).n,
    );
    const texts = (db.prepare("SELECT text FROM messages WHERE id % 89 = 0 LIMIT 2000").all() as {
      text: string;
    }[]).map((row) => row.text);
    const insert = db.prepare(
      "INSERT INTO messages (conversation_id, sender_id, timestamp, text, status, starred)" +
        " VALUES (?, ?, ?, ?, 0, 0)",
    );
    const lo = Number(range.lo), hi = Number(range.hi);
    db.exec("BEGIN");
    for (let i = 0; i < count; i++) {
      insert.run(
        1 + prng.int(conversations),
        1 + prng.int(contacts),
        lo + Math.floor(prng.next() * (hi - lo)),
        texts.length ? prng.pick(texts) : "ok",
      );
    }
    db.exec("COMMIT");
    return { inserted: count };
  } finally {
    db.close();
  }
}

/** "12.3 MB" with MB = 10^6 bytes, as everywhere in the harness. */
export function formatMb(bytes: number): string {
  return `${(bytes / MB).toFixed(1)} MB`;
}

/** The summary as lines for a terminal. */
export function formatSummary(summary: CorpusSummary): string {
  const lines = [`corpus ${summary.dir}: ${summary.files} files, ${formatMb(summary.bytes)}`];
  for (const group of summary.breakdown) {
    lines.push(
      `  ${group.folder.padEnd(14)} ${String(group.files).padStart(6)} files ${
        formatMb(group.bytes).padStart(10)
      }`,
    );
  }
  return lines.join("\n");
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: {
      "media-mb": { type: "string" },
      "video-mb": { type: "string" },
      "db-mb": { type: "string" },
      seed: { type: "string" },
      percent: { type: "string" },
      force: { type: "boolean" },
      json: { type: "boolean" },
    },
  });
  const [command, dir] = positionals;
  const number = (value: string | undefined) => value === undefined ? undefined : Number(value);
  if (!dir || !["build", "mutate", "summary"].includes(command ?? "")) {
    console.error(
      "usage: make_corpus.ts build DIR [--media-mb N] [--video-mb N] [--db-mb N] [--seed S] [--force]\n" +
        "       make_corpus.ts mutate DIR [--percent 1] [--seed S]\n" +
        "       make_corpus.ts summary DIR",
    );
    Deno.exit(2);
  }
  try {
    if (command === "build") {
      const report = await buildCorpus(dir, {
        mediaMb: number(values["media-mb"]),
        videoMb: number(values["video-mb"]),
        dbMb: number(values["db-mb"]),
        seed: values.seed,
        force: values.force,
        log: (line) => console.error(line),
      });
      if (values.json) console.log(JSON.stringify(report, null, 2));
      else {
        console.log(formatSummary(report));
        console.log(`  media from: ${JSON.stringify(report.mediaSources)}`);
        console.log(`  messages: ${report.messages} from ${report.textSource}`);
      }
    } else if (command === "mutate") {
      const report = await mutateCorpus(dir, {
        percent: number(values.percent),
        seed: values.seed,
      });
      console.log(JSON.stringify(report, null, 2));
    } else {
      const summary = await summarizeCorpus(dir);
      console.log(values.json ? JSON.stringify(summary, null, 2) : formatSummary(summary));
    }
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    Deno.exit(1);
  }
}
