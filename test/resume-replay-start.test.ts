// Where a resume's replay of a stream starts (src/resume/replay-start.ts): the client's word, the
// record's position, or where the session began in the stream.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { replayStart, toldPosition } from "../src/resume/replay-start.js";
import type { SessionRecord } from "../src/resume/session-store.js";

const record: SessionRecord = {
  sid: "s1",
  owner: "",
  path: "/chat",
  rooms: ["a", "b"],
  data: "{}",
  positions: { "room:a": { seq: 9, epoch: "e1" } },
  starts: { "room:a": { seq: 2, epoch: "e1" }, "room:b": { seq: 4, epoch: "e2" } },
  generation: 1,
  replies: [],
};

describe("replayStart", () => {
  it("takes the client's position over the record's (the record may be ahead of what the connection delivered)", () => {
    assert.deepEqual(replayStart("room:a", { "room:a": [7, "e1"] }, record).after, { seq: 7, epoch: "e1" });
  });

  it("pairs a position told without an epoch with the record's epoch, or reads from the start of history without one", () => {
    assert.deepEqual(replayStart("room:a", { "room:a": [7] }, record), { after: { seq: 7, epoch: "e1" }, said: { seq: 7 } });
    assert.deepEqual(replayStart("room:c", { "room:c": [3] }, record), { after: undefined, said: { seq: 3 } });
  });

  it("reads a stream the client sent positions without from where the session began in it", () => {
    assert.deepEqual(replayStart("room:a", { "room:b": [5, "e2"] }, record).after, { seq: 2, epoch: "e1" });
  });

  it("without a pos frame, reads after the record's position, else where the session began", () => {
    assert.deepEqual(replayStart("room:a", undefined, record).after, { seq: 9, epoch: "e1" });
    assert.deepEqual(replayStart("room:b", undefined, record).after, { seq: 4, epoch: "e2" });
    assert.equal(replayStart("room:c", undefined, record).after, undefined);
  });

  it("reads only well-formed positions (a safe integer seq of 0 or more; an empty epoch is none)", () => {
    assert.deepEqual(toldPosition(5), { seq: 5 });
    assert.deepEqual(toldPosition([5, ""]), { seq: 5 });
    for (const bad of [-1, 1.5, "5", [null], [2 ** 53], {}]) assert.equal(toldPosition(bad), undefined, JSON.stringify(bad));
  });
});
