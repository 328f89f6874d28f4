// LOCAL STAND-IN, not committed: replaced by the zstd branch's module.
import { createBLAKE3, type IHasher } from "hash-wasm";
export class KeyedHasher {
  #h: IHasher;
  private constructor(h: IHasher) {
    this.#h = h;
  }
  static async create(key: Uint8Array): Promise<KeyedHasher> {
    // hash-wasm keeps a reference to the key and re-reads it on every init(): give it a private copy.
    return new KeyedHasher(await createBLAKE3(256, key.slice()));
  }
  hash(data: Uint8Array): Uint8Array {
    this.#h.init();
    this.#h.update(data);
    return this.#h.digest("binary");
  }
  dispose(): void {}
}
