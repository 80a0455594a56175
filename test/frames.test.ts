// textFrame (one buffer per frame, used for the welcome) against ws' own framing of the same text.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { encodeFrame, textFrame } from "../src/socket/frames.js";

describe("textFrame", () => {
  it("writes the bytes ws frames the same text as, header and payload in one buffer", () => {
    // Around each length-encoding boundary (7-bit, 16-bit, 64-bit), in ASCII and in multi-byte UTF-8.
    for (const size of [0, 1, 125, 126, 127, 130, 1000, 65_535, 65_536, 70_000]) {
      for (const unit of ["a", "é", "😀"]) {
        const text = unit.repeat(Math.ceil(size / Buffer.byteLength(unit)));
        const expected = Buffer.concat(encodeFrame(text));
        const frame = textFrame(text);
        assert.equal(frame.length, expected.length, `length of a ${Buffer.byteLength(text)}-byte text`);
        assert.ok(frame.equals(expected), `bytes of a ${Buffer.byteLength(text)}-byte text`);
      }
    }
  });
});
