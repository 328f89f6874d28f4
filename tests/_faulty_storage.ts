/**
 * A Storage wrapper that injects faults, for tests: errors before or after
 * the real operation (a lost answer), timeouts, truncated reads and slow
 * answers, chosen by a rule the test sets and changes as it goes.
 *
 * @module
 */

import type { ByteRange, ObjectInfo, Storage } from "../mod.ts";

export type Operation = "stat" | "get" | "put" | "delete" | "list";

/** What happens to one call. */
export type Fault =
  | "none"
  /** Fails before touching the storage. */
  | "error"
  /** Does the operation, then fails: the answer was lost. */
  | "error-after"
  /** Hangs for `timeoutMs`, then fails as a timed-out request. */
  | "timeout"
  /** A get returns all but the last bytes. */
  | "truncate"
  /** Answers after `slowMs`. */
  | "slow";

/** The injected failure. */
export class InjectedFaultError extends Error {
  constructor(operation: Operation, name: string, fault: Fault) {
    super(`Cannot ${operation} ${name}: injected ${fault}`);
    this.name = "InjectedFaultError";
  }
}

export class FaultyStorage implements Storage {
  readonly #inner: Storage;
  /** Decides each call's fault; `call` counts calls of that operation from 1. */
  rule: (operation: Operation, name: string, call: number) => Fault = () => "none";
  timeoutMs = 50;
  slowMs = 20;
  readonly calls: Record<Operation, number> = { stat: 0, get: 0, put: 0, delete: 0, list: 0 };
  /** Every fault injected, for the test to see that some were. */
  readonly injected: { operation: Operation; name: string; fault: Fault }[] = [];

  constructor(inner: Storage) {
    this.#inner = inner;
  }

  get location(): string {
    return this.#inner.location;
  }

  #decide(operation: Operation, name: string): Fault {
    const fault = this.rule(operation, name, ++this.calls[operation]);
    if (fault !== "none") this.injected.push({ operation, name, fault });
    return fault;
  }

  #run<T>(operation: Operation, name: string, body: () => Promise<T>): Promise<T> {
    return this.#apply(this.#decide(operation, name), operation, name, body);
  }

  async #apply<T>(
    fault: Fault,
    operation: Operation,
    name: string,
    body: () => Promise<T>,
  ): Promise<T> {
    switch (fault) {
      case "error":
        throw new InjectedFaultError(operation, name, fault);
      case "timeout":
        await delay(this.timeoutMs);
        throw new InjectedFaultError(operation, name, fault);
      case "slow":
        await delay(this.slowMs);
        return await body();
      case "error-after":
        await body();
        throw new InjectedFaultError(operation, name, fault);
      default:
        return await body();
    }
  }

  stat(name: string): Promise<ObjectInfo | null> {
    return this.#run("stat", name, () => this.#inner.stat(name));
  }

  async get(name: string, range?: ByteRange): Promise<Uint8Array> {
    const fault = this.#decide("get", name);
    const bytes = await this.#apply(fault, "get", name, () => this.#inner.get(name, range));
    return fault === "truncate" && bytes.length > 0 ? bytes.slice(0, bytes.length - 1) : bytes;
  }

  put(name: string, bytes: Uint8Array | readonly Uint8Array[]): Promise<void> {
    return this.#run("put", name, () => this.#inner.put(name, bytes));
  }

  delete(name: string): Promise<void> {
    return this.#run("delete", name, () => this.#inner.delete(name));
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    yield* await this.#run(
      "list",
      prefix,
      async () => await Array.fromAsync(this.#inner.list(prefix)),
    );
  }

  close(): Promise<void> {
    return this.#inner.close?.() ?? Promise.resolve();
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
