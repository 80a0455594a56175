/**
 * Resume tokens: `<sid>.<secret>`, the secret 128 random bits in base64url. A store outside the
 * process (Redis) keeps only the secret's SHA-256 digest, so a leaked dump, replica or backup
 * resumes nobody, and compares digests in constant time ({@link issueToken}, {@link parseToken}).
 * The in-memory store keeps the secret itself and compares it in constant time
 * ({@link issueSecret}, {@link splitToken}, {@link sameSecret}): its table can only be read from
 * inside the process, where the reader also holds every socket and session it would resume, so a
 * digest would cost a SHA-256 per handshake and protect nothing.
 * The token travels as the subprotocol `tsws-resume.<token>`, never in a URL.
 */
import { createHash, randomFillSync, timingSafeEqual } from "node:crypto";
import { RESUME_SUBPROTOCOL_PREFIX, SUBPROTOCOL } from "../protocol/index.js";

/**
 * A fresh token for session `sid` and the digest a store keeps of it.
 * @example
 * const { token, digest } = issueToken(socket.id); // token "0f8e...-....Jq3x_Vb1..." , digest a 32-byte Buffer
 */
export function issueToken(sid: string): { token: string; digest: Buffer } {
  const { token, secret } = issueSecret(sid);
  return { token, digest: digestOf(secret) };
}

/**
 * Splits a token into its session id and the digest of its secret; undefined when it is not shaped
 * like one (so a garbage token costs no store lookup).
 * @example
 * const parsed = parseToken(token); if (parsed) store.lookup(parsed.sid);
 */
export function parseToken(token: string): { sid: string; digest: Buffer } | undefined {
  const parts = splitToken(token);
  return parts === undefined ? undefined : { sid: parts.sid, digest: digestOf(parts.secret) };
}

/**
 * A fresh token for session `sid` and its secret, for a store that keeps the secret itself (in
 * this process's memory only; see the module comment).
 * @example
 * const { token, secret } = issueSecret(socket.id); // secret: the token's last 22 characters
 */
export function issueSecret(sid: string): { token: string; secret: string } {
  const secret = nextSecret();
  return { token: `${sid}.${secret}`, secret };
}

/**
 * Splits a token into its session id and secret; undefined when it is not shaped like one.
 * @example
 * splitToken("abc.AAAAAAAAAAAAAAAAAAAAAA"); // { sid: "abc", secret: "AAAAAAAAAAAAAAAAAAAAAA" }
 */
export function splitToken(token: string): { sid: string; secret: string } | undefined {
  const dot = token.lastIndexOf(".");
  if (dot <= 0 || token.length - dot - 1 !== 22) return undefined;
  const secret = token.slice(dot + 1);
  if (!/^[A-Za-z0-9_-]{22}$/.test(secret)) return undefined;
  return { sid: token.slice(0, dot), secret };
}

/**
 * Compares two secrets in constant time (for equal lengths; a length is no secret: every secret
 * is 22 characters).
 * @example
 * if (!sameSecret(parsed.secret, held.secret)) refuse();
 */
export function sameSecret(a: string, b: string): boolean {
  return sameDigest(Buffer.from(a), Buffer.from(b));
}

/**
 * Compares two digests in constant time (both are SHA-256, so of equal length).
 * @example
 * if (!sameDigest(parsed.digest, record.digest)) refuse();
 */
export function sameDigest(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** How many resume tokens one upgrade may offer: the client's latest and the one it last resumed with. */
const MAX_OFFERED_TOKENS = 2;

/**
 * The resume tokens a client offered as subprotocols `tsws-resume.<token>` in its
 * `Sec-WebSocket-Protocol` header, in its order (the first {@link MAX_OFFERED_TOKENS}), or
 * undefined when it offered none. The bundled client offers its latest token, then the one it last
 * resumed with (its fallback, for a late take: docs/resume.md). Only read beside `tsws.v1`: an
 * upgrade that does not offer it cannot resume a session, and a token taken for it would be spent
 * (and the session's open connection closed) for nothing. The server never selects one.
 * @example
 * resumeTokensOf("tsws.v1, tsws-resume.abc.def"); // ["abc.def"]
 * resumeTokensOf("tsws.v1, tsws-resume.s.new, tsws-resume.s.old"); // ["s.new", "s.old"]
 * resumeTokensOf("tsws-resume.abc.def"); // undefined
 */
export function resumeTokensOf(header: string | readonly string[] | undefined): string[] | undefined {
  if (header === undefined) return undefined;
  const list = typeof header === "string" ? header : header.join(",");
  if (!list.includes(RESUME_SUBPROTOCOL_PREFIX)) return undefined; // most upgrades offer no token: no split
  const tokens: string[] = [];
  let negotiable = false;
  for (const item of list.split(",")) {
    const offered = item.trim();
    if (offered === SUBPROTOCOL) negotiable = true;
    else if (
      tokens.length < MAX_OFFERED_TOKENS &&
      offered.startsWith(RESUME_SUBPROTOCOL_PREFIX) &&
      offered.length > RESUME_SUBPROTOCOL_PREFIX.length
    ) {
      tokens.push(offered.slice(RESUME_SUBPROTOCOL_PREFIX.length));
    }
  }
  return negotiable && tokens.length > 0 ? tokens : undefined;
}

/** Secrets drawn per refill of {@link pool}. */
const POOL_SECRETS = 128;
const SECRET_BYTES = 16;
/**
 * Random bytes for the next secrets, filled {@link POOL_SECRETS} at a time: one call into the CSPRNG
 * costs about as much for 2 KiB as for 16 bytes, and a handshake with resume on draws one secret
 * (as node's `randomUUID` keeps a cache of its random bytes). Each byte is handed out once.
 */
const pool = Buffer.alloc(POOL_SECRETS * SECRET_BYTES);
let drawn = POOL_SECRETS;

function nextSecret(): string {
  if (drawn === POOL_SECRETS) {
    randomFillSync(pool);
    drawn = 0;
  }
  const start = drawn++ * SECRET_BYTES;
  return pool.toString("base64url", start, start + SECRET_BYTES);
}

function digestOf(secret: string): Buffer {
  return createHash("sha256").update(secret).digest();
}
