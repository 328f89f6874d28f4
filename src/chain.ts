/**
 * The snapshot chain as anyone can verify it, without the password
 * (FORMAT.md §12.3): every envelope's name, signature and repository id,
 * then the links between envelopes. `check`, and the rollback pin (§12.4)
 * that backup and restore consult, start here.
 *
 * @module
 */

import { equalBytes, sha256Hex, toHex } from "./_bytes.ts";
import { FormatError } from "./errors.ts";
import {
  type Config,
  decodeEnvelope,
  encodeEnvelopeSigned,
  ENVELOPE_SIGNATURE_LABEL,
  type PackRef,
} from "./format.ts";
import { verifySignature } from "./keys.ts";
import { SNAPSHOTS_PREFIX } from "./snapshot.ts";
import { isHexName, type Storage } from "./storage/storage.ts";

const ZERO_HASH = "0".repeat(64);
/** An envelope is small (a header, a pack list, a sealed JSON): larger objects are not read. */
const MAX_ENVELOPE_BYTES = 64 * 1024 * 1024;

/** One envelope whose name, signature and repository id verified. */
export interface ChainLink {
  /** Hex SHA-256 of the envelope: its name and id. */
  id: string;
  kind: "snapshot" | "tombstone";
  sequence: bigint;
  /** Hex hash of the envelope this one follows; 64 zeros for the first. */
  previous: string;
  timeMs: number;
  /**
   * For a tombstone or a replacement (FORMAT.md §12.3), the hex hash of the
   * envelope it stands in for: the hash chain links keep naming that one.
   */
  forgotten: string | null;
  packs: PackRef[];
}

/** A problem with one object: its name, and what is wrong with it. */
export interface ObjectProblem {
  object: string;
  message: string;
}

/** The chain read from a repository, and what is wrong with it. */
export interface Chain {
  /** Verified envelopes, by sequence, then id. */
  links: ChainLink[];
  /** Envelopes that are damaged or forged: unreadable, renamed, badly signed, foreign. */
  damaged: (ObjectProblem & { sequence?: bigint; timeMs?: number })[];
  /** Broken links: gaps and sequences that do not increase (damage, §12.3). */
  breaks: ObjectProblem[];
  /** Forks: two envelopes follow one (concurrent backups; information, not damage). */
  forks: ObjectProblem[];
  /**
   * The newest verified envelope, by sequence, then id; null when there is
   * none. `position` is the hash the next envelope names as previous: the
   * envelope's own, or for a tombstone or replacement the one it stands in for.
   */
  head: { sequence: bigint; id: string; position: string } | null;
}

/**
 * Reads and verifies every envelope against the config's public key and
 * repository id, and analyses the links (FORMAT.md §12.3). Never throws for
 * damage: every bad object becomes a `damaged` entry naming it.
 */
export async function readChain(
  storage: Storage,
  config: Pick<Config, "publicKey" | "repositoryId">,
): Promise<Chain> {
  const links: ChainLink[] = [];
  const damaged: Chain["damaged"] = [];
  for await (const info of storage.list(SNAPSHOTS_PREFIX)) {
    const id = info.name.slice(SNAPSHOTS_PREFIX.length);
    if (!isHexName(info.name, SNAPSHOTS_PREFIX)) continue; // foreign (FORMAT.md §4): left alone
    if (info.size > MAX_ENVELOPE_BYTES) {
      damaged.push({
        object: info.name,
        message: `${info.size} bytes is too large for an envelope`,
      });
      continue;
    }
    let bytes: Uint8Array;
    try {
      bytes = await storage.get(info.name);
    } catch (error) {
      damaged.push({ object: info.name, message: `cannot be read: ${(error as Error).message}` });
      continue;
    }
    if (await sha256Hex(bytes) !== id) {
      // Its clear fields, unverified, still tell the person which snapshot this was.
      let where = {};
      try {
        const e = decodeEnvelope(bytes);
        where = { sequence: e.sequence, timeMs: e.timeMs };
      } catch { /* nothing more to say than the hash mismatch */ }
      damaged.push({
        object: info.name,
        message: "its bytes do not match its name (SHA-256)",
        ...where,
      });
      continue;
    }
    let envelope;
    try {
      envelope = decodeEnvelope(bytes);
    } catch (error) {
      if (!(error instanceof FormatError)) throw error;
      damaged.push({ object: info.name, message: error.message });
      continue;
    }
    const where = { sequence: envelope.sequence, timeMs: envelope.timeMs };
    if (!equalBytes(envelope.repositoryId, config.repositoryId)) {
      damaged.push({ object: info.name, message: "it belongs to another repository", ...where });
      continue;
    }
    const signed = encodeEnvelopeSigned(envelope);
    if (
      !(await verifySignature(
        config.publicKey,
        ENVELOPE_SIGNATURE_LABEL,
        signed,
        envelope.signature,
      ))
    ) {
      damaged.push({ object: info.name, message: "its signature does not verify", ...where });
      continue;
    }
    links.push({
      id,
      kind: envelope.kind,
      sequence: envelope.sequence,
      previous: toHex(envelope.previous),
      timeMs: envelope.timeMs,
      // A tombstone, or a replacement prune wrote (§12.3), stands in for this envelope.
      forgotten: envelope.forgotten.some((b) => b !== 0) ? toHex(envelope.forgotten) : null,
      packs: envelope.packs,
    });
  }
  links.sort(compareLinks);
  return { links, damaged, ...analyzeLinks(links) };
}

function compareLinks(a: { sequence: bigint; id: string }, b: { sequence: bigint; id: string }) {
  return a.sequence === b.sequence ? a.id.localeCompare(b.id) : a.sequence < b.sequence ? -1 : 1;
}

/**
 * FORMAT.md §12.3 on verified envelopes: a link `previous = h` is satisfied
 * by the envelope named h or by a tombstone whose `forgotten` is h; an
 * unsatisfied link is a gap, a sequence that is not one more than the one
 * it follows is damage, and two envelopes following one are a fork.
 */
export function analyzeLinks(links: readonly ChainLink[]): Omit<Chain, "links" | "damaged"> {
  const byId = new Map(links.map((l) => [l.id, l]));
  const byForgotten = new Map<string, ChainLink>();
  for (const l of links) if (l.forgotten) byForgotten.set(l.forgotten, l);
  const breaks: ObjectProblem[] = [];
  const followers = new Map<string, ChainLink[]>();
  for (const link of links) {
    const object = SNAPSHOTS_PREFIX + link.id;
    // A tombstone and the envelope it replaced share one place in the chain: count it once.
    if (link.kind === "snapshot" && byForgotten.has(link.id)) continue;
    const key = link.previous;
    followers.set(key, [...(followers.get(key) ?? []), link]);
    if (link.previous === ZERO_HASH) {
      if (link.sequence !== 0n) {
        breaks.push({
          object,
          message: `sequence ${link.sequence} follows nothing: the envelopes before it are missing`,
        });
      }
      continue;
    }
    const target = byId.get(link.previous) ?? byForgotten.get(link.previous);
    if (!target) {
      breaks.push({
        object,
        message: `sequence ${link.sequence} follows ${
          link.previous.slice(0, 16)
        }, which is missing without a tombstone (a gap: deleted or withheld)`,
      });
    } else if (target.sequence + 1n !== link.sequence) {
      breaks.push({
        object,
        message: `sequence ${link.sequence} follows sequence ${target.sequence} (${
          target.id.slice(0, 16)
        }): sequences must increase by one along the chain`,
      });
    }
  }
  const forks: ObjectProblem[] = [];
  for (const [previous, list] of followers) {
    if (list.length < 2) continue;
    const names = list.map((l) => l.id.slice(0, 8)).join(", ");
    forks.push({
      object: previous === ZERO_HASH ? "snapshots/" : SNAPSHOTS_PREFIX + previous,
      message: `fork at sequence ${list[0]!.sequence}: ${names} follow the same ${
        previous === ZERO_HASH ? "start" : "snapshot"
      } (concurrent backups; not damage)`,
    });
  }
  const newest = links.at(-1);
  return {
    breaks,
    forks,
    head: newest
      ? { sequence: newest.sequence, id: newest.id, position: newest.forgotten ?? newest.id }
      : null,
  };
}
