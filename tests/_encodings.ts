// Small encoders tests need (Deno std's encoding module is on JSR).

export function encodeBase64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}
