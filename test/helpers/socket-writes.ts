import { Socket } from 'node:net';

/**
 * Counts the process's socket writes (each `_write` or `_writev`, one system call) from now until
 * `stop()`: what a test of "sent in one write" reads, on a connection with nothing else on the wire.
 */
export function countSocketWrites(): { count(): number; stop(): number } {
  const proto = Socket.prototype as unknown as Record<'_write' | '_writev', (...args: unknown[]) => unknown>;
  const original = { write: proto._write, writev: proto._writev };
  let writes = 0;
  proto._write = function (this: Socket, ...args: unknown[]) {
    writes++;
    return original.write.apply(this, args);
  };
  proto._writev = function (this: Socket, ...args: unknown[]) {
    writes++;
    return original.writev.apply(this, args);
  };
  let stopped = false;
  return {
    count: () => writes,
    stop: () => {
      if (!stopped) {
        stopped = true;
        proto._write = original.write;
        proto._writev = original.writev;
      }
      return writes;
    },
  };
}
