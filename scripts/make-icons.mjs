#!/usr/bin/env node
/**
 * Draws Backstop's icons and writes them as real PNGs (node:zlib, no dependencies):
 *   resources/icon.png                    512×512 app icon (electron-builder makes .ico/.icns from it)
 *   resources/tray/<state>.png            16×16 tray icon, one per state
 *   resources/tray/<state>@2x.png         32×32 (Electron picks @2x on high-DPI screens)
 * States: idle, running, warning, error — the same database glyph, coloured per state,
 * with a badge dot for everything but idle.
 *
 * Usage: node scripts/make-icons.mjs [outDir]   (default: <repo>/resources)
 * Deterministic: the same script always writes the same bytes; commit its output.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { deflateSync } from 'node:zlib';

const outDir = resolve(process.argv[2] ?? join(import.meta.dirname, '..', 'resources'));

// ───────────── PNG encoding ─────────────

const CRC_TABLE = new Uint32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf) {
  let c = 0xffffffff;
  for (const byte of buf) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** rgba: Uint8Array of size*size*4, straight (non-premultiplied) alpha. */
function encodePng(size, rgba) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // colour type RGBA
  ihdr[10] = 0; // compression
  ihdr[11] = 0; // filter method
  ihdr[12] = 0; // no interlace
  const raw = Buffer.alloc(size * (size * 4 + 1));
  for (let y = 0; y < size; y++) {
    raw[y * (size * 4 + 1)] = 0; // filter: none
    Buffer.from(rgba.buffer, rgba.byteOffset + y * size * 4, size * 4).copy(raw, y * (size * 4 + 1) + 1);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

// ───────────── drawing ─────────────

/**
 * Renders a scene given as paint(x, y) → [r, g, b, a] (0..255 colour, 0..1 alpha) over
 * unit coordinates, with n×n supersampling for clean anti-aliased edges.
 */
function render(size, paint, n = 5) {
  const out = new Uint8Array(size * size * 4);
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      let r = 0, g = 0, b = 0, a = 0;
      for (let sy = 0; sy < n; sy++) {
        for (let sx = 0; sx < n; sx++) {
          const c = paint((px + (sx + 0.5) / n) / size, (py + (sy + 0.5) / n) / size);
          if (!c) continue;
          r += c[0] * c[3];
          g += c[1] * c[3];
          b += c[2] * c[3];
          a += c[3];
        }
      }
      const i = (py * size + px) * 4;
      if (a > 0) {
        out[i] = Math.round(r / a);
        out[i + 1] = Math.round(g / a);
        out[i + 2] = Math.round(b / a);
      }
      out[i + 3] = Math.round((a / (n * n)) * 255);
    }
  }
  return out;
}

const hex = (h) => [parseInt(h.slice(1, 3), 16), parseInt(h.slice(3, 5), 16), parseInt(h.slice(5, 7), 16)];
const mix = (c1, c2, t) => c1.map((v, i) => v + (c2[i] - v) * t);

function inRoundedRect(x, y, x0, y0, x1, y1, r) {
  if (x < x0 || x > x1 || y < y0 || y > y1) return false;
  const cx = Math.min(Math.max(x, x0 + r), x1 - r);
  const cy = Math.min(Math.max(y, y0 + r), y1 - r);
  return (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
}

const inEllipse = (x, y, cx, cy, rx, ry) => ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1;

function distToSegment(x, y, ax, ay, bx, by) {
  const dx = bx - ax, dy = by - ay;
  const t = Math.max(0, Math.min(1, ((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy)));
  return Math.hypot(x - (ax + t * dx), y - (ay + t * dy));
}

/**
 * The database glyph: a cylinder of three stacked discs. Returns 'body', 'gap' (the
 * line between discs and under the top cap) or null, for a point in glyph units 0..1.
 */
function cylinder(x, y, gap, discs = 3) {
  const cx = 0.5, rx = 0.36, ry = 0.12, top = 0.2, bottom = 0.8;
  const inside = (Math.abs(x - cx) <= rx && y >= top && y <= bottom) || inEllipse(x, y, cx, top, rx, ry) || inEllipse(x, y, cx, bottom, rx, ry);
  if (!inside) return null;
  const dx = (x - cx) / rx;
  if (Math.abs(dx) <= 1) {
    const arc = ry * Math.sqrt(1 - dx * dx);
    for (let k = 0; k < discs; k++) {
      const yk = top + (k * (bottom - top)) / discs;
      if (Math.abs(y - (yk + arc)) <= gap / 2) return 'gap';
    }
  }
  return 'body';
}

/** A shield with a flat top and a pointed bottom, centred at (cx, cy), half width w. */
function inShield(x, y, cx, cy, w, scale = 1) {
  const hw = w * scale;
  const top = cy - hw * 1.05, mid = cy + hw * 0.1, bottom = cy + hw * 1.25;
  if (y < top || y > bottom) return false;
  if (y <= mid) return inRoundedRect(x, y, cx - hw, top, cx + hw, mid + hw, hw * 0.25);
  const t = (y - mid) / (bottom - mid);
  return Math.abs(x - cx) <= hw * (1 - t * t);
}

// App icon: a blue rounded square, a white database, a green shield with a check.
function appIcon(x, y) {
  if (!inRoundedRect(x, y, 0.04, 0.04, 0.96, 0.96, 0.2)) return null;
  const bg = mix(hex('#2f6fe4'), hex('#173f9e'), y);
  const sx = 0.5, sy = 0.7, sw = 0.165; // shield badge
  if (inShield(x, y, sx, sy, sw)) {
    const check = Math.min(distToSegment(x, y, sx - 0.075, sy + 0.005, sx - 0.02, sy + 0.06), distToSegment(x, y, sx - 0.02, sy + 0.06, sx + 0.08, sy - 0.05));
    if (check <= 0.022) return [255, 255, 255, 1];
    return [...mix(hex('#22c55e'), hex('#15803d'), (y - (sy - sw)) / (2.3 * sw)), 1];
  }
  if (inShield(x, y, sx, sy, sw, 1.22)) return [...bg, 1];
  // glyph occupies 0.18..0.82 horizontally, shifted up a little
  const gx = (x - 0.5) / 0.62 + 0.5, gy = (y - 0.44) / 0.62 + 0.5;
  const part = cylinder(gx, gy, 0.055);
  if (part === 'body') return [255, 255, 255, 1];
  return [...bg, 1];
}

const TRAY = {
  idle: { glyph: '#7b8798', badge: null },
  running: { glyph: '#2f6fe4', badge: '#2f6fe4' },
  warning: { glyph: '#d98a06', badge: '#f59e0b' },
  error: { glyph: '#d63a3a', badge: '#ef4444' },
};

function trayIcon(state, size) {
  const { glyph, badge } = TRAY[state];
  const gap = Math.max(1 / size, 0.05);
  const discs = size < 24 ? 2 : 3; // three discs turn to mush at 16 px
  const bx = 0.76, by = 0.76, br = 0.22; // badge dot, bottom-right
  return (x, y) => {
    if (badge) {
      const d = Math.hypot(x - bx, y - by);
      if (d <= br) return [...hex(badge), 1];
      if (d <= br + gap * 1.2) return null; // transparent ring keeps the dot readable
    }
    const part = cylinder((x - 0.5) / 1.02 + 0.5, y, gap, discs);
    return part === 'body' ? [...hex(glyph), 1] : null;
  };
}

function write(file, size, paint) {
  const path = join(outDir, file);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, encodePng(size, render(size, paint)));
  console.log(`wrote ${path} (${size}×${size})`);
}

write('icon.png', 512, appIcon);
for (const state of Object.keys(TRAY)) {
  write(`tray/${state}.png`, 16, trayIcon(state, 16));
  write(`tray/${state}@2x.png`, 32, trayIcon(state, 32));
}
