// `cofre diff`, `cofre stats`, `cofre cat`: looking inside a repository.

import { Command } from "@commander-js/extra-typings";
import {
  BlobNotFoundError,
  decodeContentList,
  decodeTree,
  FormatError,
  type IndexEntry,
} from "../mod.ts";
import { formatBytes } from "./_progress.ts";
import { withRepository } from "./_secrets.ts";
import { type CliContext, EXIT_OK, UsageError } from "./_ui.ts";

export function diffCommand({ io, done }: CliContext) {
  return new Command("diff")
    .description("show what changed between two snapshots")
    .argument("<a>", "the older snapshot (id prefix or 'latest')")
    .argument("<b>", "the newer snapshot (id prefix or 'latest')")
    .option("--json", "print one JSON object per change")
    .addHelpText(
      "after",
      "\n+ added, - removed, M content changed, U only mode or time changed, T type changed.",
    )
    .action(async (a, b, options, command) => {
      let changes = 0;
      await withRepository(command, io, async (r) => {
        for await (const c of r.diff(a, b)) {
          changes++;
          io.stdout(
            options.json
              ? JSON.stringify(c) + "\n"
              : `${c.change}  ${c.path}${c.type === "dir" ? "/" : ""}\n`,
          );
        }
      });
      if (!options.json && changes === 0) io.stdout("No changes.\n");
      done(EXIT_OK);
    });
}

export function statsCommand({ io, done }: CliContext) {
  return new Command("stats")
    .description("show how much the repository holds and how much dedup and compression saved")
    .option("--json", "print one JSON object")
    .action(async (options, command) => {
      const s = await withRepository(command, io, (r) => r.stats());
      if (options.json) {
        io.stdout(
          JSON.stringify({
            ...s,
            newestSequence: s.newestSequence === null ? null : Number(s.newestSequence),
          }) + "\n",
        );
        return done(EXIT_OK);
      }
      const ratio = s.sealedBytes > 0 ? (s.plaintextBytes / s.sealedBytes).toFixed(2) : "-";
      io.stdout(
        `Repository ${s.id} at ${s.location}\n` +
          `  snapshots        ${s.snapshots}${
            s.newestSequence === null ? "" : ` (newest sequence ${s.newestSequence})`
          }\n` +
          `  latest restores  ${formatBytes(s.restoreSizeOfLatest)}\n` +
          `  distinct data    ${
            formatBytes(s.plaintextBytes)
          } in ${s.dataBlobs} chunks and ${s.treeBlobs} trees\n` +
          `  stored           ${
            formatBytes(s.packs.bytes)
          } in ${s.packs.objects} packs (compression ×${ratio})\n` +
          `  index            ${
            formatBytes(s.indexFiles.bytes)
          } in ${s.indexFiles.objects} files\n`,
      );
      done(EXIT_OK);
    });
}

const toHexString = (bytes: Uint8Array) =>
  Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

const entryJson = (e: IndexEntry) => ({
  type: e.type,
  id: toHexString(e.id),
  pack: toHexString(e.pack),
  offset: e.offset,
  sealed_length: e.sealedLength,
  plaintext_length: e.plaintextLength,
});

export function catCommand({ io, done }: CliContext) {
  return new Command("cat")
    .description(
      "print one object, decrypted: config, snapshot, index, pack (its header), tree or blob",
    )
    .argument("<kind>", "config | snapshot | index | pack | tree | blob")
    .argument("[id]", "the object's id (a snapshot may be 'latest' or an id prefix)")
    .addHelpText(
      "after",
      "\n'cat blob' writes the chunk's raw bytes to standard output; the others print JSON.",
    )
    .action(async (kind, id, _options, command) => {
      const kinds = ["config", "snapshot", "index", "pack", "tree", "blob"];
      if (!kinds.includes(kind)) {
        throw new UsageError(`Cannot cat ${kind}: expected ${kinds.join(", ")}`);
      }
      if (kind !== "config" && !id) throw new UsageError(`Cannot cat ${kind}: give its id`);
      await withRepository(command, io, async (r) => {
        // A tree or blob that neither the index nor any pack names is most likely a
        // mistyped id, not damage (readBlob has looked in the packs' headers too).
        const readBlob = async (type: "tree" | "data") => {
          try {
            return await r.readBlob(type, id!);
          } catch (error) {
            if (!(error instanceof BlobNotFoundError)) throw error;
            throw new UsageError(
              `Cannot cat ${kind} ${id}: this repository has no such ${kind} (give its whole ` +
                "id, as 'cofre cat snapshot' and 'cofre cat tree' show them)",
            );
          }
        };
        const out = (value: unknown) => io.stdout(JSON.stringify(value, null, 2) + "\n");
        switch (kind) {
          case "config":
            return out({
              id: r.id,
              created: new Date(r.config.createdMs).toISOString(),
              chunker: r.config.chunker,
              zstd_level: r.config.zstdLevel,
              public_key: toHexString(r.config.publicKey),
            });
          case "snapshot": {
            const s = await r.snapshot(id!);
            return out({
              id: s.id,
              sequence: Number(s.sequence),
              previous: s.previous,
              packs: s.packs.length,
              ...s.snapshot,
            });
          }
          case "index":
            return out((await r.indexFile(id!)).map(entryJson));
          case "pack":
            return out((await r.packHeader(id!)).map(entryJson));
          case "tree": {
            // A tree-type blob is a directory's tree or a file's content list (FORMAT.md §11.1).
            const bytes = await readBlob("tree");
            try {
              return out(decodeTree(bytes));
            } catch (error) {
              if (!(error instanceof FormatError)) throw error;
              let list: string[];
              try {
                list = decodeContentList(bytes);
              } catch {
                throw error; // neither: the tree's own error says most
              }
              return out({ content: list });
            }
          }
          case "blob":
            return io.stdoutBytes(await readBlob("data"));
          default:
            throw new UsageError(
              `Cannot cat ${kind}: expected config, snapshot, index, pack, tree or blob`,
            );
        }
      });
      done(EXIT_OK);
    });
}
