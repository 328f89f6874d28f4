import { assertEquals, assertThrows, assertTrue } from "./_assert.ts";
import { estimatePasswordStrength, normalizeAccount, normalizePassword } from "../mod.ts";

Deno.test("normalizeAccount() accepts common notations of one E.164 number", () => {
  for (
    const input of [
      "+5511999998888",
      "+55 11 99999-8888",
      "+55 (11) 99999-8888",
      "+55.11.99999.8888",
      "005511999998888",
      " +55 11 999998888 ",
      "\uff0b5511999998888", // a full-width plus, as some keyboards type it
    ]
  ) {
    assertEquals(normalizeAccount(input), "+5511999998888", input);
  }
});

Deno.test("normalizeAccount() rejects what cannot be a phone number", () => {
  for (
    const input of [
      "",
      "5511999998888",
      "+0511999998888",
      "+1234567",
      "+1234567890123456",
      "+55 11 abc",
      "alice",
    ]
  ) {
    assertThrows(() => normalizeAccount(input), RangeError, "phone number");
  }
});

Deno.test("normalizePassword() counts code points after NFC and states the rule", () => {
  assertEquals(normalizePassword("12345678"), "12345678");
  // Seven emoji are 14 UTF-16 units but 7 characters: too short.
  assertThrows(() => normalizePassword("😀😀😀😀😀😀😀"), RangeError, "7 characters");
  // "e" + combining acute is one character after NFC.
  assertThrows(
    () => normalizePassword("e\u0301e\u0301e\u0301e\u0301e\u0301e\u0301e\u0301"),
    RangeError,
    "at least 8",
  );
  assertEquals(normalizePassword("cafe\u0301 au lait"), "caf\u00e9 au lait");
});

Deno.test("estimatePasswordStrength() warns about common passwords and explains offline guessing", async () => {
  for (const weak of ["password123", "qwertyuiop", "12345678", "iloveyou1"]) {
    const { score, warning } = await estimatePasswordStrength(weak);
    assertTrue(score <= 2, weak);
    assertTrue(warning !== null && warning.includes("offline"), weak);
  }
  assertEquals(
    (await estimatePasswordStrength("vivid otter juggles seventeen lanterns")).warning,
    null,
  );
  // Context words (the account) count as guessable.
  const withContext = await estimatePasswordStrength("+5511999998888", ["+5511999998888"]);
  assertTrue(withContext.warning !== null);
});
