import { assertEquals, assertThrows } from "./_assert.ts";
import fc from "fast-check";
import {
  type Config,
  CONFIG_BYTES,
  decodeConfig,
  decodeKeySlot,
  encodeConfig,
  encodeKeySlot,
  FormatError,
  KEY_SLOT_BYTES,
  type KeySlot,
  UnsupportedVersionError,
} from "../mod.ts";

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });

const configArbitrary: fc.Arbitrary<Config> = fc.record({
  repositoryId: bytes(16),
  createdMs: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  chunker: fc.constantFrom(
    { minSize: 256 * 1024, avgSize: 1024 * 1024, maxSize: 4 * 1024 * 1024, normalization: 1 },
    { minSize: 64, avgSize: 256, maxSize: 1024, normalization: 0 },
    { minSize: 4096, avgSize: 16384, maxSize: 65536, normalization: 3 },
  ),
  zstdLevel: fc.integer({ min: 1, max: 19 }),
  publicKey: bytes(32),
  signature: bytes(64),
});

const slotArbitrary: fc.Arbitrary<KeySlot> = fc.oneof(
  fc.record({
    kind: fc.constant("password" as const),
    slotId: bytes(16),
    salt: bytes(16),
    argon2id: fc.record({
      memoryKib: fc.integer({ min: 2040, max: 4 * 1024 * 1024 }),
      iterations: fc.integer({ min: 1, max: 1000 }),
      parallelism: fc.integer({ min: 1, max: 255 }),
    }),
    createdMs: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    nonce: bytes(12),
    sealedMaster: bytes(48),
  }),
  fc.record({
    kind: fc.constant("recovery" as const),
    slotId: bytes(16),
    salt: bytes(16),
    argon2id: fc.constant(null),
    createdMs: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    nonce: bytes(12),
    sealedMaster: bytes(48),
  }),
);

/** Decoders may only refuse with FormatError (UnsupportedVersionError is one). */
function onlyFormatErrors(decode: (b: Uint8Array) => unknown, input: Uint8Array): void {
  try {
    decode(input);
  } catch (error) {
    if (!(error instanceof FormatError)) throw error;
  }
}

Deno.test("config and key slot encodings round-trip (FORMAT.md §5.3, §6)", () => {
  fc.assert(
    fc.property(configArbitrary, (config) => {
      const encoded = encodeConfig(config);
      assertEquals(encoded.length, CONFIG_BYTES);
      assertEquals(decodeConfig(encoded), structuredClone(config));
    }),
  );
  fc.assert(
    fc.property(slotArbitrary, (slot) => {
      const encoded = encodeKeySlot(slot);
      assertEquals(encoded.length, KEY_SLOT_BYTES);
      assertEquals(decodeKeySlot(encoded), structuredClone(slot));
    }),
  );
});

Deno.test("decoders reject arbitrary bytes with FormatError only", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (input) => {
      onlyFormatErrors(decodeConfig, input);
      onlyFormatErrors(decodeKeySlot, input);
    }),
    { numRuns: 2000 },
  );
});

Deno.test("decoders reject mutated, truncated and extended encodings with FormatError only", () => {
  const mutation = fc.record({
    at: fc.nat(),
    value: fc.integer({ min: 0, max: 255 }),
    cut: fc.nat(),
    extra: fc.uint8Array({ maxLength: 4 }),
    kind: fc.constantFrom("flip", "truncate", "extend"),
  });
  const mutate = (
    encoded: Uint8Array,
    m: { at: number; value: number; cut: number; extra: Uint8Array; kind: string },
  ) => {
    if (m.kind === "truncate") return encoded.subarray(0, m.cut % encoded.length);
    if (m.kind === "extend") return new Uint8Array([...encoded, ...m.extra, 0]);
    const out = encoded.slice();
    out[m.at % out.length] = m.value;
    return out;
  };
  fc.assert(
    fc.property(
      configArbitrary,
      mutation,
      (config, m) => onlyFormatErrors(decodeConfig, mutate(encodeConfig(config), m)),
    ),
    { numRuns: 1000 },
  );
  fc.assert(
    fc.property(
      slotArbitrary,
      mutation,
      (slot, m) => onlyFormatErrors(decodeKeySlot, mutate(encodeKeySlot(slot), m)),
    ),
    { numRuns: 1000 },
  );
});

Deno.test("a newer format version is refused with UnsupportedVersionError, whatever follows", () => {
  const slot = fc.sample(slotArbitrary, 1)[0]!;
  const encoded = encodeKeySlot(slot);
  encoded[8] = 2;
  assertThrows(() => decodeKeySlot(encoded), UnsupportedVersionError, "format version 2");
  assertThrows(() => decodeKeySlot(encoded.subarray(0, 20)), UnsupportedVersionError);
  const config = encodeConfig(fc.sample(configArbitrary, 1)[0]!);
  config[8] = 9;
  assertThrows(() => decodeConfig(config), UnsupportedVersionError, "upgrade Cofre");
});

Deno.test("decoders state what is wrong", async (t) => {
  const slot = encodeKeySlot(fc.sample(slotArbitrary, 1)[0]!);
  const cases: [string, () => unknown, string][] = [
    ["empty", () => decodeKeySlot(new Uint8Array(0)), "truncated in magic"],
    ["bad magic", () => decodeKeySlot(new Uint8Array(KEY_SLOT_BYTES)), "bad magic"],
    ["short", () => decodeKeySlot(slot.subarray(0, 100)), "100 bytes, expected 123"],
    ["unknown kind", () => {
      const b = slot.slice();
      b[9] = 7;
      return decodeKeySlot(b);
    }, "unknown kind 7"],
    ["huge Argon2id memory", () => {
      const b = slot.slice();
      b[9] = 1;
      b[42] = 1;
      new DataView(b.buffer).setUint32(43, 0xffffffff, true);
      new DataView(b.buffer).setUint32(51, 4, true);
      new DataView(b.buffer).setUint32(47, 3, true);
      return decodeKeySlot(b);
    }, "memory 4294967295 KiB"],
  ];
  for (const [name, run, says] of cases) {
    await t.step(name, () => {
      assertThrows(run, FormatError, says);
    });
  }
});

// ---------------------------------------------------------------------------
// Packs, index files, trees, envelopes (FORMAT.md §9-12)

import {
  CONTENT_LIST_IDS,
  decodeContentList,
  decodeEnvelope,
  decodeIndex,
  decodePackHeader,
  decodeTree,
  encodeContentList,
  encodeEnvelope,
  encodeIndex,
  encodePackHeader,
  encodeTree,
  type Envelope,
  type IndexEntry,
  type PackEntry,
  type TreeNode,
} from "../mod.ts";

const blobType = fc.constantFrom("data" as const, "tree" as const);
const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
const packEntry: fc.Arbitrary<PackEntry> = fc.record({
  type: blobType,
  id: bytes(32),
  sealedLength: fc.integer({ min: 29, max: 0xffff_ffff }),
  plaintextLength: u32,
});
const indexEntry = (packs: Uint8Array[]): fc.Arbitrary<IndexEntry> =>
  fc.record({
    type: blobType,
    id: bytes(32),
    pack: fc.constantFrom(...packs),
    offset: u32,
    sealedLength: fc.integer({ min: 29, max: 0xffff_ffff }),
    plaintextLength: u32,
  });
const hexId = bytes(32).map((b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(""));
const nodeName = fc.string({ minLength: 1, maxLength: 12 }).filter((s) =>
  s !== "." && s !== ".." && !s.includes("/") && !s.includes("\0")
);
/** What every file node has, whatever its content. */
const fileFields = {
  name: nodeName,
  type: fc.constant("file" as const),
  mode: u32,
  mtimeMs: fc.integer({ min: -1e12, max: 1e13 }),
  size: fc.nat(),
};
const treeNode: fc.Arbitrary<TreeNode> = fc.oneof(
  fc.record({ ...fileFields, content: fc.array(hexId, { maxLength: 4 }) }),
  fc.record({ ...fileFields, contentLists: fc.array(hexId, { minLength: 1, maxLength: 3 }) }),
  fc.record({
    ...fileFields,
    content: fc.array(hexId, { maxLength: 2 }),
    sqlite: fc.record({
      sourceSize: fc.nat(),
      chunkBytes: fc.integer({ min: 1, max: 2 ** 26 }),
      companions: fc.array(
        fc.record({ name: fc.string(), size: fc.nat(), mtimeMs: fc.integer({ min: -1e12 }) }),
        { maxLength: 2 },
      ),
    }, { requiredKeys: ["sourceSize", "companions"] }),
  }),
  fc.record({
    name: nodeName,
    type: fc.constant("dir" as const),
    mode: u32,
    mtimeMs: fc.nat(),
    subtree: hexId,
  }),
  fc.record(
    {
      name: nodeName,
      type: fc.constant("symlink" as const),
      mode: u32,
      mtimeMs: fc.nat(),
      target: fc.string(),
      inode: fc.nat(),
      ctimeMs: fc.nat(),
    },
    { requiredKeys: ["name", "type", "mode", "mtimeMs", "target"] },
  ),
);
const envelope: fc.Arbitrary<Envelope> = fc.oneof(
  fc.record({
    kind: fc.constant("snapshot" as const),
    repositoryId: bytes(16),
    sequence: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    previous: bytes(32),
    timeMs: fc.nat(),
    forgotten: fc.constant(new Uint8Array(32)),
    packs: fc.uniqueArray(fc.record({ id: bytes(32), size: fc.nat() }), {
      maxLength: 5,
      selector: (p) => p.id.join(),
    }),
    sealedSnapshot: fc.uint8Array({ minLength: 28, maxLength: 80 }),
    signature: bytes(64),
  }),
  fc.record({
    kind: fc.constant("tombstone" as const),
    repositoryId: bytes(16),
    sequence: fc.bigInt({ min: 0n, max: 1000n }),
    previous: bytes(32),
    timeMs: fc.nat(),
    forgotten: bytes(32).filter((b) => b.some((x) => x !== 0)),
    packs: fc.constant([] as { id: Uint8Array; size: number }[]),
    sealedSnapshot: fc.constant(new Uint8Array(0)),
    signature: bytes(64),
  }),
);

const sortedPacks = <T extends { packs: { id: Uint8Array; size: number }[] }>(e: T): T => {
  const packs = [...e.packs].sort((a, b) => {
    for (let i = 0; i < 32; i++) if (a.id[i] !== b.id[i]) return a.id[i]! - b.id[i]!;
    return 0;
  });
  return { ...e, packs };
};

Deno.test("pack header, index, tree and envelope encodings round-trip", () => {
  fc.assert(fc.property(fc.array(packEntry, { minLength: 1, maxLength: 20 }), (entries) => {
    assertEquals(decodePackHeader(encodePackHeader(entries)), structuredClone(entries));
  }));
  fc.assert(fc.property(
    fc.array(bytes(32), { minLength: 1, maxLength: 4 }).chain((packs) =>
      fc.array(indexEntry(packs), { maxLength: 30 })
    ),
    (entries) => assertEquals(decodeIndex(encodeIndex(entries)), structuredClone(entries)),
  ));
  fc.assert(
    fc.property(fc.uniqueArray(treeNode, { selector: (n) => n.name, maxLength: 8 }), (nodes) => {
      const encoded = encodeTree(nodes);
      const decoded = decodeTree(encoded);
      assertEquals(decoded.length, nodes.length);
      // Canonical: the order of the input does not matter.
      assertEquals(encodeTree([...nodes].reverse()), encoded);
      assertEquals(encodeTree(decoded), encoded);
    }),
  );
  fc.assert(fc.property(envelope, (e) => {
    assertEquals(decodeEnvelope(encodeEnvelope(e)), structuredClone(sortedPacks(e)));
  }));
});

Deno.test("pack, index, tree and envelope decoders reject garbage and mutations with FormatError only", () => {
  const decoders = [decodePackHeader, decodeIndex, decodeTree, decodeEnvelope];
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 400 }),
      (input) => decoders.forEach((d) => onlyFormatErrors(d, input)),
    ),
    { numRuns: 1000 },
  );
  const flip = (encoded: Uint8Array, at: number, value: number) => {
    const out = encoded.slice();
    out[at % out.length] = value;
    return out;
  };
  const cut = (encoded: Uint8Array, at: number) => encoded.subarray(0, at % encoded.length);
  fc.assert(
    fc.property(
      fc.array(packEntry, { minLength: 1, maxLength: 5 }),
      fc.nat(),
      fc.integer({ min: 0, max: 255 }),
      (e, at, v) => {
        onlyFormatErrors(decodePackHeader, flip(encodePackHeader(e), at, v));
        onlyFormatErrors(decodePackHeader, cut(encodePackHeader(e), at));
      },
    ),
  );
  fc.assert(fc.property(envelope, fc.nat(), fc.integer({ min: 0, max: 255 }), (e, at, v) => {
    onlyFormatErrors(decodeEnvelope, flip(encodeEnvelope(e), at, v));
    onlyFormatErrors(decodeEnvelope, cut(encodeEnvelope(e), at));
  }));
  fc.assert(
    fc.property(
      fc.array(treeNode, { maxLength: 4 }),
      fc.nat(),
      fc.integer({ min: 0, max: 255 }),
      (nodes, at, v) => {
        const unique = [...new Map(nodes.map((n) => [n.name, n])).values()];
        onlyFormatErrors(decodeTree, flip(encodeTree(unique), at, v));
      },
    ),
  );
});

Deno.test("a pack header that claims more blobs than its bytes hold is refused before allocating", () => {
  const header = encodePackHeader([{
    type: "data",
    id: new Uint8Array(32),
    sealedLength: 100,
    plaintextLength: 50,
  }]);
  new DataView(header.buffer).setUint32(9, 1 << 20, true);
  assertThrows(() => decodePackHeader(header), FormatError, "for 1048576 blobs");
  new DataView(header.buffer).setUint32(9, (1 << 20) + 1, true);
  assertThrows(() => decodePackHeader(header), FormatError, "expected 1..");
});

Deno.test("trees sort names bytewise in UTF-8 and refuse invalid names", () => {
  const node = (name: string): TreeNode => ({
    name,
    type: "dir",
    mode: 0o755,
    mtimeMs: 0,
    subtree: "0".repeat(64),
  });
  // U+FF5E (3 UTF-8 bytes) sorts after U+1F600 in UTF-16 but before it in UTF-8.
  const decoded = decodeTree(encodeTree([node("😀"), node("～"), node("a")]));
  assertEquals(decoded.map((n) => n.name), ["a", "～", "😀"]);
  for (const bad of ["", ".", "..", "a/b", "nul\0"]) {
    assertThrows(() => encodeTree([node(bad)]), RangeError, "invalid name");
  }
  assertThrows(() => encodeTree([node("x"), node("x")]), RangeError, "twice");
  assertThrows(
    () =>
      decodeTree(
        new TextEncoder().encode(
          '{"nodes":[{"name":"b","type":"dir","mode":1,"mtime_ms":0,"subtree":"' + "0".repeat(64) +
            '"},{"name":"a","type":"dir","mode":1,"mtime_ms":0,"subtree":"' + "0".repeat(64) +
            '"}]}',
        ),
      ),
    FormatError,
    "out of order",
  );
});

Deno.test("a large file's node names content lists (FORMAT.md §11.1): golden bytes and round trip", () => {
  const id = (c: string) => c.repeat(64);
  const node: TreeNode = {
    name: "msgstore.db",
    type: "file",
    mode: 0o600,
    mtimeMs: 1700000000000,
    size: 20 * 1024 * 1024,
    contentLists: [id("a"), id("b")],
  };
  const encoded = encodeTree([node]);
  assertEquals(
    new TextDecoder().decode(encoded),
    `{"nodes":[{"name":"msgstore.db","type":"file","mode":384,"mtime_ms":1700000000000,` +
      `"size":20971520,"content_lists":["${id("a")}","${id("b")}"]}]}`,
  );
  assertEquals(decodeTree(encoded), [node]);
  const list = [id("1"), id("2")];
  assertEquals(
    new TextDecoder().decode(encodeContentList(list)),
    `{"content":["${id("1")}","${id("2")}"]}`,
  );
  assertEquals(decodeContentList(encodeContentList(list)), list);
  const full = Array.from({ length: CONTENT_LIST_IDS }, (_, i) => i.toString(16).padStart(64, "0"));
  assertEquals(decodeContentList(encodeContentList(full)), full);
});

Deno.test("a captured database's node records its chunk length (FORMAT.md §7.4, §11): golden bytes", () => {
  const id = "d".repeat(64);
  const node: TreeNode = {
    name: "msgstore.db",
    type: "file",
    mode: 0o600,
    mtimeMs: 1700000000000,
    size: 8192,
    content: [id],
    sqlite: {
      sourceSize: 8192,
      chunkBytes: 16384,
      companions: [{ name: "msgstore.db-wal", size: 0, mtimeMs: 1700000000001 }],
    },
  };
  const encoded = encodeTree([node]);
  assertEquals(
    new TextDecoder().decode(encoded),
    `{"nodes":[{"name":"msgstore.db","type":"file","mode":384,"mtime_ms":1700000000000,` +
      `"size":8192,"content":["${id}"],"sqlite":{"source_size":8192,"chunk_bytes":16384,` +
      `"companions":[{"name":"msgstore.db-wal","size":0,"mtime_ms":1700000000001}]}}]}`,
  );
  assertEquals(decodeTree(encoded), [node]);
  // Written before 2026-12-07: no chunk_bytes, and none read back.
  const { chunkBytes: _, ...old } = node.sqlite!;
  assertEquals(decodeTree(encodeTree([{ ...node, sqlite: old }])), [{ ...node, sqlite: old }]);
  for (const bad of ["0", "-4096", "4096.5", '"4096"', "null"]) {
    const text = new TextDecoder().decode(encoded).replace(
      '"chunk_bytes":16384',
      `"chunk_bytes":${bad}`,
    );
    assertThrows(() => decodeTree(new TextEncoder().encode(text)), FormatError, "chunk_bytes");
  }
});

Deno.test("content lists and nodes that break FORMAT.md §11.1 are refused", () => {
  const id = "c".repeat(64);
  const tree = (members: string) =>
    new TextEncoder().encode(
      `{"nodes":[{"name":"f","type":"file","mode":1,"mtime_ms":0,"size":1${members}}]}`,
    );
  assertThrows(
    () => decodeTree(tree(`,"content":["${id}"],"content_lists":["${id}"]`)),
    FormatError,
    "both content and content_lists",
  );
  assertThrows(() => decodeTree(tree("")), FormatError, "content is not a list");
  assertThrows(() => decodeTree(tree(`,"content_lists":[]`)), FormatError, "content_lists");
  assertThrows(() => decodeTree(tree(`,"content_lists":["xyz"]`)), FormatError, "content_lists");
  const encoded = (ids: string[]) => new TextEncoder().encode(JSON.stringify({ content: ids }));
  assertThrows(() => decodeContentList(encoded([])), FormatError, "0 ids");
  assertThrows(
    () => decodeContentList(encoded(Array(CONTENT_LIST_IDS + 1).fill(id))),
    FormatError,
    "4097 ids",
  );
  assertThrows(() => decodeContentList(encoded(["nothex"])), FormatError, "chunk ids");
  assertThrows(() => decodeContentList(new Uint8Array([0xff])), FormatError, "UTF-8");
  assertThrows(() => encodeContentList([]), RangeError, "0 ids");
  // A writer keeps to the rule too: lists exactly past 4096 chunks.
  const file = { name: "f", type: "file" as const, mode: 1, mtimeMs: 0, size: 1 };
  assertThrows(() => encodeTree([{ ...file, contentLists: [] }]), RangeError, "no content lists");
  assertThrows(
    () => encodeTree([{ ...file, content: Array(CONTENT_LIST_IDS + 1).fill(id) }]),
    RangeError,
    "need content lists",
  );
});
