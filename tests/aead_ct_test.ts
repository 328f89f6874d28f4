// Constant-time evidence for the AES-256-GCM kernels. The release module
// (build/cofre.wasm) is rewritten by binaryen (`wasm-opt --instrument-memory
// --log-execution`) so that every load and store reports its address and
// every function entry and loop iteration reports its id. Runs that differ
// only in secrets (key, nonce, plaintext, AAD, tag) must then produce the
// same trace: a secret-dependent table index, branch into different code or
// loop count, or early exit would show up as a difference. Values are not
// recorded: they depend on the secrets by definition.
//
// What this cannot see: branches that change no address and no loop count
// (the kernel sources have none on secrets; see assembly/*.ts), bulk memory
// operations (memory.copy/fill, which wasm-opt does not instrument; their
// lengths are public), and what the wasm engine's compiler does underneath.

import { STATUS_AUTH_FAILED, STATUS_OK } from "../src/_wasm/core.ts";
import type { CoreExports } from "../src/_wasm/core.ts";

const WASM = new URL("../build/cofre.wasm", import.meta.url);
const WASM_OPT = new URL("../node_modules/.bin/wasm-opt", import.meta.url);

async function instrumented(): Promise<WebAssembly.Module> {
  const dir = await Deno.makeTempDir({ prefix: "cofre-ct-" });
  try {
    const out = `${dir}/traced.wasm`;
    // binaryen's wasm-opt is a Node.js script (#!/usr/bin/env node).
    const { code, stderr } = await new Deno.Command(WASM_OPT.pathname, {
      args: [
        WASM.pathname,
        "--enable-simd",
        "--enable-bulk-memory",
        "--enable-sign-ext",
        "--instrument-memory",
        "--log-execution",
        "-o",
        out,
      ],
      stdout: "null",
      stderr: "piped",
    }).output().catch((error) => {
      throw new Error(`Cannot run ${WASM_OPT.pathname} (it needs node on PATH): ${error}`);
    });
    if (code !== 0) throw new Error(`wasm-opt failed: ${new TextDecoder().decode(stderr)}`);
    return new WebAssembly.Module(await Deno.readFile(out));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const module = await instrumented();

/** Each import the instrumented module expects, so a new binaryen cannot add one silently. */
const EXPECTED_IMPORTS = [
  "load_ptr",
  "load_val_f32",
  "load_val_f64",
  "load_val_i32",
  "load_val_i64",
  "log_execution",
  "memory_grow_post",
  "memory_grow_pre",
  "store_ptr",
  "store_val_f32",
  "store_val_f64",
  "store_val_i32",
  "store_val_i64",
];

/** The exports the traces exercise (ABI.md §3 and §5). */

interface Traced {
  exports: CoreExports;
  /** The events since the last `take()`: [kind, id, address] triples flattened. */
  take(): number[];
}

/** A fresh instance whose imports log addresses and execution ids, never values. */
function traced(): Traced {
  let events: number[] = [];
  const pass = (_id: number, value: number | bigint) => value;
  const env = {
    load_ptr: (id: number, bytes: number, offset: number, ptr: number) => {
      events.push(1, id, bytes, ptr + offset);
      return ptr;
    },
    store_ptr: (id: number, bytes: number, offset: number, ptr: number) => {
      events.push(2, id, bytes, ptr + offset);
      return ptr;
    },
    log_execution: (id: number) => {
      events.push(3, id);
    },
    memory_grow_pre: (id: number, delta: number) => {
      events.push(4, id, delta);
      return delta;
    },
    memory_grow_post: (id: number, result: number) => {
      events.push(5, id, result);
      return result;
    },
    load_val_i32: pass,
    load_val_i64: pass,
    load_val_f32: pass,
    load_val_f64: pass,
    store_val_i32: pass,
    store_val_i64: pass,
    store_val_f32: pass,
    store_val_f64: pass,
  };
  const instance = new WebAssembly.Instance(module, { env });
  return {
    exports: instance.exports as unknown as CoreExports,
    take() {
      const out = events;
      events = [];
      return out;
    },
  };
}

function random(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}

interface Inputs {
  key: Uint8Array;
  nonce: Uint8Array;
  aad: Uint8Array;
  text: Uint8Array;
}

/** The traces of one seal and three opens (valid, wrong first tag byte, wrong last tag byte). */
function run(inputs: Inputs): Record<string, number[]> {
  const { exports: w, take } = traced();
  const ctx = w.alloc(w.gcm_context_bytes());
  const buf = w.alloc(4096);
  const tagAt = buf + 2048;
  const mem = () => new Uint8Array(w.memory.buffer);
  const expect = (status: number, want = STATUS_OK) => {
    if (status !== want) throw new Error(`status ${status}, expected ${want}`);
  };
  const traces: Record<string, number[]> = {};
  take();

  mem().set(inputs.key, buf);
  expect(w.gcm_init(ctx, buf));
  w.wipe(buf, 32);
  traces.init = take();

  const begin = () => {
    mem().set(inputs.nonce, buf);
    expect(w.gcm_start(ctx, buf, inputs.nonce.length));
    mem().set(inputs.aad, buf);
    expect(w.gcm_aad_update(ctx, buf, inputs.aad.length));
  };
  take();
  begin();
  mem().set(inputs.text, buf);
  expect(w.gcm_seal_update(ctx, buf, inputs.text.length));
  const ciphertext = mem().slice(buf, buf + inputs.text.length);
  expect(w.gcm_seal_finish(ctx, tagAt));
  const tag = mem().slice(tagAt, tagAt + 16);
  traces.seal = take();

  const open = (name: string, badByte: number) => {
    take();
    begin();
    mem().set(ciphertext, buf);
    expect(w.gcm_open_update(ctx, buf, ciphertext.length));
    const t = tag.slice();
    if (badByte >= 0) t[badByte]! ^= 0x80;
    mem().set(t, tagAt);
    expect(w.gcm_open_finish(ctx, tagAt), badByte >= 0 ? STATUS_AUTH_FAILED : STATUS_OK);
    traces[name] = take();
    if (badByte < 0) {
      expect(w.gcm_decrypt_update(ctx, buf, ciphertext.length));
      const opened = mem().slice(buf, buf + ciphertext.length);
      if (opened.some((b, i) => b !== inputs.text[i])) throw new Error("instrumented open differs");
      traces.decrypt = take();
    }
  };
  open("open-valid", -1);
  open("open-bad-first-byte", 0);
  open("open-bad-last-byte", 15);
  return traces;
}

function firstDifference(a: number[], b: number[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

function assertSame(a: number[], b: number[], what: string): void {
  const at = firstDifference(a, b);
  if (at !== -1) {
    throw new Error(
      `${what}: traces differ at event word ${at} (lengths ${a.length}, ${b.length}): ` +
        `${a.slice(Math.max(0, at - 4), at + 8)} vs ${b.slice(Math.max(0, at - 4), at + 8)}`,
    );
  }
}

Deno.test("the instrumented module needs exactly binaryen's tracing imports", () => {
  const names = WebAssembly.Module.imports(module).map((i) => `${i.module}.${i.name}`).sort();
  const expected = EXPECTED_IMPORTS.map((n) => `env.${n}`);
  if (names.join() !== expected.join()) throw new Error(`imports: ${names.join(", ")}`);
});

Deno.test("AES-256-GCM memory and execution traces do not depend on key, nonce, data or tag", async (t) => {
  // Lengths cover the fast 12-byte nonce and the GHASH path for other
  // lengths, partial blocks, a full aggregation group plus a tail, and more
  // than one 8-block AES batch.
  const shapes = [
    { nonce: 12, aad: 0, text: 0 },
    { nonce: 12, aad: 37, text: 300 },
    { nonce: 1, aad: 16, text: 129 },
    { nonce: 60, aad: 200, text: 1000 },
  ];
  for (const shape of shapes) {
    await t.step(`nonce ${shape.nonce} B, AAD ${shape.aad} B, text ${shape.text} B`, () => {
      const runs: Record<string, number[]>[] = [];
      // Random inputs, plus the extremes all-zero and all-one.
      const fills = [undefined, undefined, undefined, 0x00, 0xff];
      for (const fill of fills) {
        const make = (n: number) => fill === undefined ? random(n) : new Uint8Array(n).fill(fill);
        runs.push(run({
          key: make(32),
          nonce: make(shape.nonce),
          aad: make(shape.aad),
          text: make(shape.text),
        }));
      }
      const first = runs[0]!;
      for (const name of Object.keys(first)) {
        if (first[name]!.length === 0) throw new Error(`${name}: empty trace`);
      }
      // A failed and a successful tag check must look the same up to the verdict.
      assertSame(
        first["open-valid"]!,
        first["open-bad-first-byte"]!,
        "valid vs bad first tag byte",
      );
      assertSame(first["open-valid"]!, first["open-bad-last-byte"]!, "valid vs bad last tag byte");
      for (const [i, other] of runs.entries()) {
        for (const name of Object.keys(first)) {
          assertSame(first[name]!, other[name]!, `${name}, run 0 vs run ${i}`);
        }
      }
    });
  }
});
