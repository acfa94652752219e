/**
 * A minimal server side of the WebSocket protocol (RFC 6455) over Node's own `upgrade`
 * event: text messages only, which is all the served window's bridge sends.
 *
 * Contract: `acceptWebSocket` answers the handshake of an already authorized upgrade
 * request (101 + Sec-WebSocket-Accept) and returns a socket that delivers each complete
 * text message (fragments joined) to `onMessage`, answers pings, and closes on a close
 * frame, a binary frame, an unmasked client frame or a message above `maxMessageBytes`
 * (1009). `send` writes one unmasked text frame; `close` sends a close frame with a code
 * and ends the connection. `rejectUpgrade` writes a plain HTTP error on the raw socket.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export interface WebSocketPeer {
  send(text: string): void;
  close(code?: number, reason?: string): void;
  readonly closed: boolean;
}

export interface WebSocketHandlers {
  onMessage(text: string): void;
  onClose(): void;
}

/** Writes an HTTP error on a socket whose upgrade is refused, then ends it. */
export function rejectUpgrade(socket: Duplex, status: number, reason: string, body: string): void {
  if (socket.destroyed) return;
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}

/** True when the request asks for a version-13 WebSocket with a key. */
export function isWebSocketUpgrade(req: IncomingMessage): boolean {
  return (
    (req.headers.upgrade ?? '').toLowerCase() === 'websocket' &&
    typeof req.headers['sec-websocket-key'] === 'string' &&
    req.headers['sec-websocket-version'] === '13'
  );
}

function frame(opcode: number, payload: Buffer): Buffer {
  const len = payload.length;
  let header: Buffer;
  if (len < 126) {
    header = Buffer.from([0x80 | opcode, len]);
  } else if (len < 65536) {
    header = Buffer.alloc(4);
    header[0] = 0x80 | opcode;
    header[1] = 126;
    header.writeUInt16BE(len, 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = 0x80 | opcode;
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(len), 2);
  }
  return Buffer.concat([header, payload]);
}

export function acceptWebSocket(req: IncomingMessage, socket: Duplex, head: Buffer, handlers: WebSocketHandlers, maxMessageBytes = 16 * 1024 * 1024): WebSocketPeer {
  const key = req.headers['sec-websocket-key'] as string;
  const accept = createHash('sha1').update(key + GUID).digest('base64');
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
  let closed = false;
  let buffer: Buffer = head.length ? Buffer.from(head) : Buffer.alloc(0);
  let fragments: Buffer[] = [];
  let fragmentBytes = 0;

  const peer: WebSocketPeer = {
    get closed() {
      return closed;
    },
    send(text) {
      if (closed || socket.destroyed) return;
      socket.write(frame(0x1, Buffer.from(text, 'utf8')));
    },
    close(code = 1000, reason = '') {
      if (closed) return;
      closed = true;
      const body = Buffer.alloc(2 + Buffer.byteLength(reason));
      body.writeUInt16BE(code, 0);
      body.write(reason, 2, 'utf8');
      if (!socket.destroyed) socket.end(frame(0x8, body));
      handlers.onClose();
    },
  };

  function parse(): void {
    while (!closed && buffer.length >= 2) {
      const b0 = buffer[0]!;
      const b1 = buffer[1]!;
      const fin = (b0 & 0x80) !== 0;
      const opcode = b0 & 0x0f;
      const masked = (b1 & 0x80) !== 0;
      let len = b1 & 0x7f;
      let offset = 2;
      if (len === 126) {
        if (buffer.length < 4) return;
        len = buffer.readUInt16BE(2);
        offset = 4;
      } else if (len === 127) {
        if (buffer.length < 10) return;
        const big = buffer.readBigUInt64BE(2);
        if (big > BigInt(maxMessageBytes)) return peer.close(1009, 'message too big');
        len = Number(big);
        offset = 10;
      }
      if (!masked) return peer.close(1002, 'client frames must be masked');
      if (len > maxMessageBytes || fragmentBytes + len > maxMessageBytes) return peer.close(1009, 'message too big');
      if (buffer.length < offset + 4 + len) return;
      const mask = buffer.subarray(offset, offset + 4);
      const payload = Buffer.from(buffer.subarray(offset + 4, offset + 4 + len));
      for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i % 4]!;
      buffer = buffer.subarray(offset + 4 + len);
      switch (opcode) {
        case 0x0: // continuation
        case 0x1: // text
          if (opcode === 0x1 && fragments.length) return peer.close(1002, 'a new message inside a fragmented one');
          if (opcode === 0x0 && !fragments.length) return peer.close(1002, 'a continuation without a message');
          fragments.push(payload);
          fragmentBytes += payload.length;
          if (fin) {
            const text = Buffer.concat(fragments).toString('utf8');
            fragments = [];
            fragmentBytes = 0;
            handlers.onMessage(text);
          }
          break;
        case 0x8:
          return peer.close(1000);
        case 0x9:
          if (!socket.destroyed) socket.write(frame(0xa, payload));
          break;
        case 0xa:
          break;
        default:
          return peer.close(1003, 'only text messages are accepted');
      }
    }
  }

  socket.on('data', (chunk: Buffer) => {
    buffer = buffer.length ? Buffer.concat([buffer, chunk]) : chunk;
    parse();
  });
  const gone = (): void => {
    if (closed) return;
    closed = true;
    handlers.onClose();
  };
  socket.on('close', gone);
  // The HTTP server's sockets allow half-open connections: a peer that hangs up without a
  // close frame would otherwise leave this side open for ever.
  socket.on('end', () => {
    gone();
    socket.end();
  });
  socket.on('error', gone);
  if (buffer.length) queueMicrotask(parse);
  return peer;
}
