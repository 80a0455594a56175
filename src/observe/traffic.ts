/**
 * Per-server message totals, counted in place: a message in or out adds to plain numbers here,
 * allocating nothing, and only while a collector asked for them (`counting` > 0). Collectors read
 * the totals when they are scraped. This is what `tswebsockets/metrics` counts messages with, so
 * the `tswebsockets:message` channel (one object per message) is published only for subscribers
 * that want each message (the admin page while watched, an application's own).
 */

/** Messages and their payload bytes. */
export interface Totals {
  messages: number;
  bytes: number;
}

/**
 * One server's totals. The server's node holds it; sockets add to it when `counting` > 0.
 * @example
 * const traffic = trafficOf(server); traffic.counting++; // ... later: traffic.received.get("/chat")?.messages
 */
export class Traffic {
  /** How many collectors count; at 0 the message path does one number check and nothing else. */
  counting = 0;
  /** Messages in from peers, by namespace pattern (bounded). */
  readonly received = new Map<string, Totals>();
  /** Direct sends (`socket.send`, `sendTo`); broadcasts are counted once per broadcast on their channel. */
  readonly sent: Totals = { messages: 0, bytes: 0 };
  /** Sockets whose reading is paused behind a busy hook (see EventQueue), counted always: pauses are rare. */
  paused = 0;
  #lastNamespace = "";
  #last: Totals | undefined;

  /** Counts a message in; call only when `counting` > 0. */
  countIn(namespace: string, bytes: number): void {
    // Most servers have one busy namespace: the last one's totals save a map lookup per message.
    let t = namespace === this.#lastNamespace ? this.#last : this.received.get(namespace);
    if (t === undefined) this.received.set(namespace, (t = { messages: 0, bytes: 0 }));
    this.#lastNamespace = namespace;
    this.#last = t;
    t.messages++;
    t.bytes += bytes;
  }

  /** Counts a direct send; call only when `counting` > 0. */
  countOut(bytes: number): void {
    this.sent.messages++;
    this.sent.bytes += bytes;
  }
}

const byServer = new WeakMap<object, Traffic>();

/**
 * The totals of a server (made on first use; the server's node and its collectors share them).
 * @example
 * const traffic = trafficOf(server); // the same object for the same server
 */
export function trafficOf(server: object): Traffic {
  let traffic = byServer.get(server);
  if (traffic === undefined) byServer.set(server, (traffic = new Traffic()));
  return traffic;
}
