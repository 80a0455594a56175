// "tswebsockets/admin": a live admin page for a server, mounted on the application's own HTTP
// server behind the application's own authorization.
export { type AdminHandler, type AdminOptions, adminPage } from "./admin-page.js";
export type { Incident } from "./recorder.js";
