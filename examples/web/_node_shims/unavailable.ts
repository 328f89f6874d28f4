// The browser bundle maps the few `node:` modules that Cofre's shared code
// imports to these stand-ins (import_map.json). The restore page never calls
// them: they serve backup and restore-to-disk, which the page does not use.
// Should a future change reach them, the page says so instead of misbehaving.

export function unavailable(name: string): never {
  throw new Error(`Cannot use ${name} in the browser restore page: it needs Deno or Node`);
}
