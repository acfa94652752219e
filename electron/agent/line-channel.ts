/**
 * A contract message channel over a stream socket (the agent's Unix socket or named pipe):
 * one JSON message per line (UTF-8, `\n`-terminated; JSON.stringify never emits a raw
 * newline).
 *
 * Contract: `onMessage` receives each complete line; a line longer than `maxLineBytes` ends
 * the connection (a peer cannot make this side buffer without bound). `send` writes one line
 * while open; `close` ends the socket; `onClose` runs exactly once, whoever closed it.
 */
import type { Socket } from 'node:net';

export interface LineChannel {
  send(text: string): void;
  close(code?: number, reason?: string): void;
  readonly closed: boolean;
}

export function lineChannel(socket: Socket, handlers: { onMessage(text: string): void; onClose(): void }, maxLineBytes = 16 * 1024 * 1024): LineChannel {
  let closed = false;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const gone = (): void => {
    if (closed) return;
    closed = true;
    handlers.onClose();
  };
  const channel: LineChannel = {
    get closed() {
      return closed;
    },
    send(text) {
      if (closed || socket.destroyed) return;
      socket.write(text + '\n');
    },
    close() {
      if (!socket.destroyed) socket.end();
      gone();
    },
  };
  socket.on('data', (chunk: Buffer) => {
    let start = 0;
    for (let nl = chunk.indexOf(10, start); nl !== -1 && !closed; nl = chunk.indexOf(10, start)) {
      pending.push(chunk.subarray(start, nl));
      const line = Buffer.concat(pending).toString('utf8');
      pending = [];
      pendingBytes = 0;
      start = nl + 1;
      if (line.length) handlers.onMessage(line);
    }
    if (closed || start >= chunk.length) return;
    pending.push(chunk.subarray(start));
    pendingBytes += chunk.length - start;
    if (pendingBytes > maxLineBytes) {
      socket.destroy();
      gone();
    }
  });
  socket.on('close', gone);
  socket.on('end', () => {
    socket.end();
    gone();
  });
  socket.on('error', gone);
  return channel;
}
