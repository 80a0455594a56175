// `npm start`: the chat room demo on the embedded defaults (in-memory sessions, one node) at
// http://localhost:8000 (PORT and HOST change it). Ctrl-C or SIGTERM closes it gracefully.
import { startChat } from "./app.js";

const port = process.env.PORT === undefined ? 8000 : Number(process.env.PORT);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`PORT must be an integer from 0 to 65535, got ${JSON.stringify(process.env.PORT)}`);
  process.exit(1);
}
const chat = await startChat({ port, host: process.env.HOST ?? "localhost" });
console.log(`chat room demo on ${chat.url}  (log in as alice/alice, bob/bob, carol/carol or dave/dave)`);

const stop = (signal: string) => {
  console.log(`${signal}: closing sockets and the web server…`);
  chat.close().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
};
process.once("SIGTERM", () => stop("SIGTERM"));
process.once("SIGINT", () => stop("SIGINT"));
