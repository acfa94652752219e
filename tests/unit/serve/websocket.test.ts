/**
 * The hand-written WebSocket server side (electron/serve/websocket.ts) against raw frames
 * from a TCP socket: a fragmented message is joined, a ping is answered, and each protocol
 * violation closes with its RFC 6455 code (1002 unmasked, 1003 binary, 1009 too big) without
 * delivering anything.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { acceptWebSocket } from '../../../electron/serve/websocket.ts';

let server: Server | null = null;
const sockets: Socket[] = [];
afterEach(async () => {
  // Upgraded sockets are no longer the HTTP server's: end them here.
  for (const s of sockets.splice(0)) s.destroy();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = null;
});

async function echoServer(maxBytes = 1024): Promise<{ port: number; received: string[] }> {
  const received: string[] = [];
  server = createServer();
  server.on('upgrade', (req, socket, head) => {
    const peer = acceptWebSocket(req, socket, head, { onMessage: (t) => (received.push(t), peer.send(`echo:${t}`)), onClose: () => {} }, maxBytes);
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, received };
}

function clientFrame(opcode: number, payload: Buffer, { fin = true, masked = true } = {}): Buffer {
  const mask = randomBytes(4);
  const len = payload.length;
  const head = len < 126 ? Buffer.from([(fin ? 0x80 : 0) | opcode, (masked ? 0x80 : 0) | len]) : Buffer.from([(fin ? 0x80 : 0) | opcode, (masked ? 0x80 : 0) | 126, len >> 8, len & 0xff]);
  const body = Buffer.from(payload);
  if (masked) for (let i = 0; i < body.length; i++) body[i]! ^= mask[i % 4]!;
  return Buffer.concat(masked ? [head, mask, body] : [head, body]);
}

/** Connects, completes the handshake, and collects the server's frames (opcode + payload). */
async function client(port: number): Promise<{ socket: Socket; frames: { opcode: number; payload: Buffer }[]; ended: Promise<void> }> {
  const socket = connect(port, '127.0.0.1');
  sockets.push(socket);
  const frames: { opcode: number; payload: Buffer }[] = [];
  let buf = Buffer.alloc(0);
  let upgraded = false;
  const ended = new Promise<void>((r) => socket.on('close', () => r()));
  await new Promise<void>((resolve) => {
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (!upgraded) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        expect(buf.subarray(0, end).toString()).toMatch(/^HTTP\/1\.1 101/);
        buf = buf.subarray(end + 4);
        upgraded = true;
        resolve();
      }
      while (buf.length >= 2) {
        let len = buf[1]! & 0x7f;
        let off = 2;
        if (len === 126) {
          len = buf.readUInt16BE(2);
          off = 4;
        }
        if (buf.length < off + len) break;
        frames.push({ opcode: buf[0]! & 0x0f, payload: buf.subarray(off, off + len) });
        buf = buf.subarray(off + len);
      }
    });
    socket.write(`GET /api/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n\r\n`);
  });
  return { socket, frames, ended };
}

describe('WebSocket framing', () => {
  it('joins a fragmented text message, answers a ping with a pong, and echoes', async () => {
    const { port, received } = await echoServer();
    const c = await client(port);
    c.socket.write(clientFrame(0x1, Buffer.from('hel'), { fin: false }));
    c.socket.write(clientFrame(0x9, Buffer.from('p')));
    c.socket.write(clientFrame(0x0, Buffer.from('lo ✓')));
    await expect.poll(() => c.frames.length).toBe(2);
    expect(received).toEqual(['hello ✓']);
    expect(c.frames.map((f) => [f.opcode, f.payload.toString()])).toEqual([
      [0xa, 'p'],
      [0x1, 'echo:hello ✓'],
    ]);
    const long = 'x'.repeat(300);
    c.socket.write(clientFrame(0x1, Buffer.from(long)));
    await expect.poll(() => c.frames.length).toBe(3);
    expect(c.frames[2]!.payload.toString()).toBe(`echo:${long}`);
  });

  it.each([
    ['an unmasked frame', clientFrame(0x1, Buffer.from('hi'), { masked: false }), 1002],
    ['a binary frame', clientFrame(0x2, Buffer.from('hi')), 1003],
    ['a message above the limit', clientFrame(0x1, Buffer.alloc(200, 0x61)), 1009],
    ['a continuation without a message', clientFrame(0x0, Buffer.from('hi')), 1002],
  ])('%s closes the connection with its RFC 6455 code', async (_name, frame, code) => {
    const { port, received } = await echoServer(100);
    const c = await client(port);
    c.socket.write(frame);
    await c.ended;
    expect(received).toEqual([]);
    expect(c.frames).toHaveLength(1);
    expect(c.frames[0]!.opcode).toBe(0x8);
    expect(c.frames[0]!.payload.readUInt16BE(0)).toBe(code);
  });
});
