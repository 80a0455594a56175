// The demo's users and rooms, and the passport instance that logs them in. A real application
// would check hashed passwords in its database; the demo keeps a readable list.
import passport from "passport";
import { Strategy as LocalStrategy } from "passport-local";

/** The user passport puts on the request (and so on the socket). */
export interface ChatUser {
  id: string;
  name: string;
}

/** Demo accounts: the password is the user name (alice/alice, bob/bob, carol/carol, dave/dave). */
export const DEMO_USERS: readonly (ChatUser & { username: string; password: string })[] = [
  { id: "1", username: "alice", password: "alice", name: "Alice" },
  { id: "2", username: "bob", password: "bob", name: "Bob" },
  { id: "3", username: "carol", password: "carol", name: "Carol" },
  { id: "4", username: "dave", password: "dave", name: "Dave" },
];

/** The rooms the demo offers, with a line about each. */
export const ROOM_TOPICS: Readonly<Record<string, string>> = {
  lobby: "Say hello",
  typescript: "Types, decorators and the compiler",
  random: "Anything else",
  "café au lait": "Spaces and accents in a room name",
};

/** The longest message, in characters: the contract refuses longer ones (INVALID_PAYLOAD) and the page shows why. */
export const MAX_TEXT = 2000;
export const ROOMS: readonly string[] = Object.keys(ROOM_TOPICS);

/**
 * A passport instance of its own (not the global one), so several chat apps can live in one
 * process (the tests start a few).
 * @example
 * const auth = createAuth(); app.post("/login", auth.authenticate("local", { successRedirect: "/" }))
 */
export function createAuth(): passport.Authenticator {
  const auth = new passport.Passport();
  auth.use(
    new LocalStrategy((username, password, done) => {
      const found = DEMO_USERS.find((u) => u.username === username.trim().toLowerCase() && u.password === password);
      done(null, found === undefined ? false : { id: found.id, name: found.name });
    }),
  );
  // The session holds only the id; each request (HTTP or WebSocket upgrade) looks the user up.
  auth.serializeUser((user, done) => done(null, (user as ChatUser).id));
  auth.deserializeUser((id: string, done) => {
    const found = DEMO_USERS.find((u) => u.id === id);
    done(null, found === undefined ? false : { id: found.id, name: found.name });
  });
  return auth;
}
