// A host for build/cofre.wasm in plain JavaScript: no Deno, no bundler, no
// dependency. It uses only the WebAssembly API, so the same file runs in
// Node, a browser or any other JavaScript engine; ABI.md is the contract it
// follows (section numbers below). chunk_and_seal.mjs is the Node command
// line around it.

/** The ABI version this host speaks (ABI.md §1). */
export const ABI_VERSION = 4;
const STATUS_OK = 0;
const STATUS_AUTH_FAILED = -2;
/** Bytes pushed through the module per AES-GCM or BLAKE3 call: a multiple of 16 (ABI.md §5). */
const IO_BYTES = 64 * 1024;

/** Instantiates the module from its bytes, checks its ABI version and runs its self-test. */
export async function instantiateCore(wasmBytes) {
  const { instance } = await WebAssembly.instantiate(wasmBytes, {}); // no imports (ABI.md §1)
  const w = instance.exports;
  if (w.abi_version() !== ABI_VERSION) {
    throw new Error(
      `Cannot use cofre.wasm: ABI version ${w.abi_version()}, expected ${ABI_VERSION}`,
    );
  }
  const failed = w.self_test();
  if (failed !== 0) {
    throw new Error(`Cannot use cofre.wasm: its self-test failed with code ${failed}`);
  }
  return new CofreCore(w);
}

export class CofreCore {
  #w;
  #io; // one region for all AES-GCM work: key, nonce, text and tag pass through it
  #gcm;
  #cdc;
  #b3;
  #windows = new Map(); // chunker windows by size

  constructor(exports) {
    this.#w = exports;
    // alloc never frees (ABI.md §3): reserve the regions once and reuse them.
    this.#gcm = this.#alloc(this.#w.gcm_context_bytes());
    this.#io = this.#alloc(IO_BYTES + 16);
    this.#cdc = this.#alloc(this.#w.cdc_context_bytes());
    this.#b3 = this.#alloc(this.#w.b3_context_bytes());
  }

  /** BLAKE3 in keyed-hash mode, 32 bytes (ABI.md §8): Cofre's chunk ids. */
  keyedHash(key, data) {
    const w = this.#w;
    if (key.length !== 32) throw new RangeError("Cannot hash: the BLAKE3 key must have 32 bytes");
    this.#memory().set(key, this.#io);
    check(w.b3_init(this.#b3, this.#io), "set the key");
    for (let at = 0; at < data.length; at += IO_BYTES) {
      const part = data.subarray(at, at + IO_BYTES);
      this.#memory().set(part, this.#io);
      check(w.b3_update(this.#b3, this.#io, part.length), "hash");
    }
    check(w.b3_finish(this.#b3, this.#io), "hash");
    const hash = this.#memory().slice(this.#io, this.#io + 32);
    w.wipe(this.#b3, w.b3_context_bytes()); // the key
    w.wipe(this.#io, IO_BYTES + 16);
    return hash;
  }

  /**
   * FastCDC chunk ends of `data` (ABI.md §4), streamed through a window of
   * 2 × maxSize bytes the way ABI.md describes. `seed` is a BigInt (0n: plain FastCDC).
   */
  cutPoints(data, { minSize, avgSize, maxSize, normalization = 1, seed = 0n }) {
    const w = this.#w;
    const ctx = this.#cdc;
    let window = this.#windows.get(maxSize);
    if (window === undefined) this.#windows.set(maxSize, window = this.#alloc(2 * maxSize));
    const lo = Number(BigInt.asUintN(32, seed));
    const hi = Number(BigInt.asUintN(32, seed >> 32n));
    if (w.cdc_init(ctx, minSize, avgSize, maxSize, normalization, lo, hi) !== STATUS_OK) {
      throw new RangeError("Cannot chunk: the module refused the chunker parameters");
    }
    const ends = [];
    let offset = 0; // stream position of window[0]
    let start = 0;
    let end = 0;
    const cut = () => {
      start += w.cdc_cut(ctx, window + start, end - start);
      ends.push(offset + start);
    };
    for (let at = 0; at < data.length;) {
      if (end === 2 * maxSize) { // full: move the pending bytes (< maxSize) to the front
        this.#memory().copyWithin(window, window + start, window + end);
        offset += start;
        end -= start;
        start = 0;
      }
      const n = Math.min(data.length - at, 2 * maxSize - end);
      this.#memory().set(data.subarray(at, at + n), window + end);
      end += n;
      at += n;
      while (end - start >= maxSize) cut();
    }
    while (end > start) cut();
    return ends;
  }

  /** AES-256-GCM: the ciphertext followed by the 16-byte tag (ABI.md §5). */
  seal(key, nonce, plaintext, aad = new Uint8Array(0)) {
    const w = this.#w;
    this.#start(key, nonce, aad);
    const out = new Uint8Array(plaintext.length + 16);
    for (let at = 0; at < plaintext.length; at += IO_BYTES) {
      const part = plaintext.subarray(at, at + IO_BYTES);
      this.#memory().set(part, this.#io);
      check(w.gcm_seal_update(this.#gcm, this.#io, part.length), "seal");
      out.set(this.#memory().subarray(this.#io, this.#io + part.length), at);
    }
    check(w.gcm_seal_finish(this.#gcm, this.#io), "seal");
    out.set(this.#memory().subarray(this.#io, this.#io + 16), plaintext.length);
    this.#finish();
    return out;
  }

  /** Verifies the tag, then decrypts (ABI.md §5: nothing is released before). */
  open(key, nonce, sealed, aad = new Uint8Array(0)) {
    const w = this.#w;
    if (sealed.length < 16) throw new RangeError("Cannot open: shorter than a tag");
    const text = sealed.subarray(0, sealed.length - 16);
    this.#start(key, nonce, aad);
    for (let at = 0; at < text.length; at += IO_BYTES) {
      const part = text.subarray(at, at + IO_BYTES);
      this.#memory().set(part, this.#io);
      check(w.gcm_open_update(this.#gcm, this.#io, part.length), "open");
    }
    this.#memory().set(sealed.subarray(text.length), this.#io);
    const status = w.gcm_open_finish(this.#gcm, this.#io);
    if (status === STATUS_AUTH_FAILED) {
      this.#finish();
      throw new Error("Cannot open: authentication failed (wrong key or damaged data)");
    }
    check(status, "open");
    const out = new Uint8Array(text.length);
    for (let at = 0; at < text.length; at += IO_BYTES) {
      const part = text.subarray(at, at + IO_BYTES);
      this.#memory().set(part, this.#io);
      check(w.gcm_decrypt_update(this.#gcm, this.#io, part.length), "open");
      out.set(this.#memory().subarray(this.#io, this.#io + part.length), at);
    }
    this.#finish();
    return out;
  }

  /**
   * Chunks `data`, hashes every chunk (keyed BLAKE3 under `key`, as Cofre's
   * chunk ids are) and seals it: chunk i under the nonce whose last 4
   * bytes, read as a big-endian counter, are increased by i, with i (4 bytes,
   * big-endian) as additional data. This scheme is the example's, for
   * comparing hosts byte for byte; Cofre derives nonces from content (FORMAT.md §8).
   */
  chunkAndSeal(data, { key, nonce, chunker }) {
    const ends = this.cutPoints(data, chunker);
    const ids = [];
    const sealed = [];
    let start = 0;
    for (const [i, end] of ends.entries()) {
      ids.push(this.keyedHash(key, data.subarray(start, end)));
      const chunkNonce = nonce.slice();
      const view = new DataView(chunkNonce.buffer);
      view.setUint32(8, (view.getUint32(8) + i) >>> 0);
      const aad = new Uint8Array(4);
      new DataView(aad.buffer).setUint32(0, i);
      sealed.push(this.seal(key, chunkNonce, data.subarray(start, end), aad));
      start = end;
    }
    return { ends, ids, sealed };
  }

  #start(key, nonce, aad) {
    const w = this.#w;
    if (key.length !== 32) {
      throw new RangeError("Cannot use AES-256-GCM: the key must have 32 bytes");
    }
    if (nonce.length === 0 || nonce.length > IO_BYTES) {
      throw new RangeError("Cannot use AES-256-GCM: bad nonce length");
    }
    this.#memory().set(key, this.#io);
    check(w.gcm_init(this.#gcm, this.#io), "set the key");
    w.wipe(this.#io, 32);
    this.#memory().set(nonce, this.#io);
    check(w.gcm_start(this.#gcm, this.#io, nonce.length), "start");
    for (let at = 0; at < aad.length; at += IO_BYTES) {
      const part = aad.subarray(at, at + IO_BYTES);
      this.#memory().set(part, this.#io);
      check(w.gcm_aad_update(this.#gcm, this.#io, part.length), "authenticate the data");
    }
  }

  #finish() {
    // Erase the expanded key and the last text that went through the region.
    this.#w.wipe(this.#gcm, this.#w.gcm_context_bytes());
    this.#w.wipe(this.#io, IO_BYTES + 16);
  }

  #alloc(bytes) {
    const ptr = this.#w.alloc(bytes);
    if (ptr === 0) throw new RangeError(`Cannot reserve ${bytes} bytes of WebAssembly memory`);
    return ptr;
  }

  // Memory may grow in alloc: always take a fresh view (ABI.md §3).
  #memory() {
    return new Uint8Array(this.#w.memory.buffer);
  }
}

function check(status, action) {
  if (status !== STATUS_OK) {
    throw new Error(`Cannot ${action}: the module returned status ${status}`);
  }
}
