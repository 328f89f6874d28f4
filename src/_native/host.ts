// Host-native stages (DESIGN.md §2): the system's own libraries, reached
// through Deno's FFI, doing work the WebAssembly core and zstd-codec also
// do, with the same results. This folder is the only code that opens a
// native library or passes a pointer to one; what it hands back is either a
// plain TypeScript object or nothing, in which case the caller uses the
// reference stage. Nothing here is ever required: a browser, Node, a Deno
// run without --allow-ffi, a machine without the library or a library that
// fails its known answers all fall back to the reference.
//
// COFRE_NATIVE=off (or 0, false, no) turns every native stage off, for a
// run that must use the reference stages only (README: "Native stages").

/** True when this realm may open native libraries at all. */
export function nativeAllowed(): boolean {
  const deno = (globalThis as { Deno?: typeof Deno }).Deno;
  if (deno === undefined || typeof deno.dlopen !== "function") return false;
  // Linux only: the library names below are its sonames.
  if (deno.build.os !== "linux") return false;
  try {
    // querySync never prompts: a run without --allow-ffi just uses the reference.
    if (deno.permissions.querySync({ name: "ffi" }).state !== "granted") return false;
    const env = deno.permissions.querySync({ name: "env", variable: "COFRE_NATIVE" });
    if (env.state === "granted") {
      const setting = (deno.env.get("COFRE_NATIVE") ?? "").trim().toLowerCase();
      if (["off", "0", "false", "no"].includes(setting)) return false;
    }
  } catch {
    return false;
  }
  return true;
}

/**
 * Opens a shared library by soname, or returns null when native stages are
 * not allowed here or the library (or one of its symbols) is missing.
 */
export function openLibrary<const S extends Deno.ForeignLibraryInterface>(
  soname: string,
  symbols: S,
): Deno.DynamicLibrary<S> | null {
  if (!nativeAllowed()) return null;
  try {
    return Deno.dlopen(soname, symbols);
  } catch {
    return null;
  }
}

/** The CPU flags /proc/cpuinfo lists (empty when it cannot be read). */
export function cpuFlags(): Set<string> {
  try {
    const info = Deno.readTextFileSync("/proc/cpuinfo");
    const line = info.split("\n").find((l) => l.startsWith("flags"));
    return new Set((line?.split(":")[1] ?? "").trim().split(/\s+/));
  } catch {
    return new Set();
  }
}

/** True when `a` and `b` are views whose bytes overlap in one buffer. */
export function overlaps(a: Uint8Array, b: Uint8Array): boolean {
  return a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.length &&
    b.byteOffset < a.byteOffset + a.length;
}
