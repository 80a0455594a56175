import { CloseCode, ForcedClose, isValidCloseCode, MixinFail } from "../errors.js";
import type { Logger } from "../logger.js";
import { publishForcedClose } from "../observe/channels.js";
import { type Socket, serverOf } from "../socket/socket.js";

/**
 * The policy for a hook that throws or rejects: a {@link MixinFail} closes the socket with its
 * close code and reason; anything else is logged with the error and closes it with 1011. The
 * server and every other socket carry on.
 * @example
 * const policy = { chain, maxPending: 1024, onHookError: hookFailure(logger), onFinished };
 */
export function hookFailure(logger: Logger): (socket: Socket, error: unknown) => void {
  return (socket, error) => {
    if (error instanceof MixinFail) {
      const kind = ForcedClose.blockedByMixin;
      logger.info({ code: kind.code, closeCode: error.closeCode, socket: socket.id }, `blocked by a mixin: ${error.reason}`);
      publishForcedClose(serverOf(socket), socket, { code: kind.code, closeCode: error.closeCode, reason: error.reason });
      closeSafely(socket, error.closeCode, error.reason);
      return;
    }
    const kind = ForcedClose.hookFailed;
    logger.error(
      { err: error, code: kind.code, closeCode: kind.closeCode, socket: socket.id, path: socket.path },
      "a handler hook failed; closing the socket with 1011",
    );
    publishForcedClose(serverOf(socket), socket, kind);
    closeSafely(socket, kind.closeCode, kind.reason);
  };
}

/**
 * Closes with `code` when a close frame may carry it, else with 1008: a code from application code
 * (MixinFail) or from another node may be invalid, and that must never throw here.
 * @example
 * closeSafely(socket, op.code, op.reason);
 */
export function closeSafely(socket: Socket, code: number, reason: string): void {
  socket.close(isValidCloseCode(code) ? code : CloseCode.policyViolation, reason);
}
