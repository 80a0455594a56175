import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { ClusterOp } from "../src/cluster/adapter.js";
import { decodeClusterOp, encodeClusterOp, senderOf } from "../src/cluster/codec.js";

const data = fc.oneof(
  fc.string({ unit: "grapheme" }),
  fc.uint8Array().map((a) => Buffer.from(a)),
);
const op: fc.Arbitrary<ClusterOp> = fc.oneof(
  fc.record({
    type: fc.constant("broadcast" as const),
    rooms: fc.array(fc.string({ unit: "grapheme" }), { minLength: 1 }),
    except: fc.array(fc.uuid()),
    data,
  }),
  fc.record({ type: fc.constant("sendTo" as const), id: fc.uuid(), data }),
  fc.record({
    type: fc.constant("close" as const),
    by: fc.constantFrom("session" as const, "user" as const),
    value: fc.string({ unit: "grapheme" }),
    code: fc.integer({ min: 1000, max: 4999 }),
    reason: fc.string({ maxLength: 123 }),
  }),
);

describe("the cluster message codec", () => {
  it("decodes every operation to what was encoded, text as text and bytes as bytes", () => {
    fc.assert(
      fc.property(fc.uuid(), op, (sender, original) => {
        const bytes = encodeClusterOp(sender, original);
        assert.equal(senderOf(bytes), sender);
        assert.deepEqual(decodeClusterOp(bytes), { sender, op: { ...original } });
      }),
    );
  });

  it("carries a payload without escaping it: the overhead is the header only", () => {
    const payload = "x".repeat(1000);
    const bytes = encodeClusterOp("node", { type: "broadcast", rooms: ["lobby"], except: [], data: payload });
    assert.ok(bytes.length < payload.length + 40, `${bytes.length} bytes`);
  });

  it("refuses bytes that are not an operation", () => {
    assert.equal(senderOf(Buffer.from("hi")), undefined);
    assert.throws(() => decodeClusterOp(Buffer.from([9, 0, 0, 0, 0, 0])), RangeError);
  });
});
