// Status codes returned by the exports; ABI.md §2 lists the same numbers and
// src/_wasm/ mirrors them. Never renumber: hosts embed these values.

/** The call did what it was asked. */
export const STATUS_OK: i32 = 0;
/** An argument is out of range (sizes, lengths, alignment); nothing was done. */
export const STATUS_BAD_ARGUMENT: i32 = -1;
/** Authentication failed: the tag did not verify; no plaintext was released. */
export const STATUS_AUTH_FAILED: i32 = -2;
