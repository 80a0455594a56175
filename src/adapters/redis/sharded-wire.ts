/**
 * What travels on the sharded mode's channels: a kind byte, a sequence number (uint32, 0 when
 * none) and a body. Operations carry the cluster codec's bytes and a sequence number counted per
 * publisher and partition channel, so a receiver can count what it missed (a shard's failover, a
 * failed publish) instead of missing it silently. members() questions and answers carry JSON.
 * @example
 * const bytes = frame(Kind.op, 17, encodeClusterOp(nodeId, op, Date.now()));
 */

/**
 * Three kinds serve resumable sessions, published by the resume stores (from inside their scripts
 * in the classic mode, right after them in the sharded mode): `moved` tells a node
 * that a session it held was taken by another node (body `<generation>:<sid>`, session-store.ts);
 * `inbox` hands it a direct message another node numbered into the inbox of a session it holds
 * (inbox-route.ts); `reply` hands it the reply of a request that ran on the session's previous node
 * (body `<request id>:<sid bytes>:<sid><frame>`, session-store.ts), which a retry here waits for.
 */
export const WireKind = { op: 1, ask: 2, answer: 3, moved: 4, inbox: 5, reply: 6 } as const;

const HEAD = 5;

/** A question from `from`: who holds members of `room`? Answered on `from`'s direct channel with `qid`. */
export interface MembersQuestion {
  readonly from: string;
  readonly qid: number;
  readonly room: string;
}

/** An answer: this node's members of the room asked about. */
export interface MembersAnswer {
  readonly from: string;
  readonly qid: number;
  readonly ids: string[];
}

/**
 * Frames a body.
 * @example
 * frame(WireKind.ask, 0, Buffer.from(JSON.stringify(question)));
 */
export function frame(kind: number, seq: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(HEAD + body.length);
  out[0] = kind;
  out.writeUInt32BE(seq >>> 0, 1);
  body.copy(out, HEAD);
  return out;
}

/**
 * Reads a frame; undefined when the bytes are too short to be one.
 * @example
 * const parsed = unframe(message); if (parsed?.kind === WireKind.op) decodeClusterOp(parsed.body);
 */
export function unframe(bytes: Buffer): { kind: number; seq: number; body: Buffer } | undefined {
  if (bytes.length < HEAD) return undefined;
  return { kind: bytes[0] ?? 0, seq: bytes.readUInt32BE(1), body: bytes.subarray(HEAD) };
}

/**
 * Counts, per publisher, the sequence numbers of one channel that never arrived.
 * @example
 * const gaps = new SequenceGaps(); lost += gaps.see(sender, seq);
 */
export class SequenceGaps {
  readonly #last = new Map<string, number>();

  /** How many of `sender`'s numbers were skipped before `seq` (0 for the first one seen). */
  see(sender: string, seq: number): number {
    const last = this.#last.get(sender);
    // Only forward: a number arriving late (a command Redis Cluster redirected during a failover
    // and ioredis sent again after newer ones) was counted when skipped and must not reopen the gap.
    if (last !== undefined && seq <= last) return 0;
    this.#last.set(sender, seq);
    return last === undefined ? 0 : seq - last - 1;
  }
}
