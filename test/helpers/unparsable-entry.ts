// A history read that fails while appends still work, on a real Redis: an entry whose except list
// (field `e`) is not JSON makes every read past it throw in the node (RedisHistory.read parses it),
// while appends never read that field. What test/resume-inbox-read.test.ts and
// test/resume-room-read.test.ts put into a stream, and take out again.
import type { Redis } from "ioredis";

/**
 * Appends entry `seq` with `body` to the stream whose keys start with `base` (a layout's
 * `stream(name)`), numbered as an append would, with an except list that is not JSON.
 * @example
 * await appendUnparsable(admin, layout.stream(inboxStream(sid)), 2, pushBody("dm", { n: 2 }));
 */
export async function appendUnparsable(admin: Redis, base: string, seq: number, body: string): Promise<void> {
  const now = String(Date.now());
  await admin.xadd(`${base}:log`, `${seq}-1`, "b", body, "t", now, "e", "{not json");
  await admin.hset(`${base}:meta`, "s", String(seq), "a", now);
}

/**
 * Writes the stream's entries again without their except lists (the ids kept), so that it reads
 * again; resolves with the ids it found, in order.
 * @example
 * assert.deepEqual(await mendUnparsable(admin, base), ["1-1", "2-1", "3-1"]);
 */
export async function mendUnparsable(admin: Redis, base: string): Promise<string[]> {
  const entries = await admin.xrange(`${base}:log`, "-", "+");
  await admin.del(`${base}:log`);
  for (const [id, fields] of entries) {
    const kept: string[] = [];
    for (let i = 0; i < fields.length; i += 2) if (fields[i] !== "e") kept.push(fields[i] as string, fields[i + 1] as string);
    await admin.xadd(`${base}:log`, id, ...kept);
  }
  await admin.pexpire(`${base}:log`, 60_000);
  return entries.map(([id]) => id);
}
