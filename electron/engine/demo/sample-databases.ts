/**
 * Sample SQLite databases for a first run ("Try with sample databases") and for
 * `backstop demo`: a small shop, an inventory and a blog, with realistic-looking rows,
 * indexes, a view and a trigger — enough to see a real backup, incremental and restore.
 *
 * Contract: creates the files only if they do not exist (never overwrites); deterministic
 * content (a fixed pseudo-random sequence), so repeated demos dedupe well.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'libsql';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const FIRST = ['Ada', 'Grace', 'Linus', 'Margaret', 'Ken', 'Barbara', 'Edsger', 'Frances', 'Dennis', 'Radia'];
const LAST = ['Lovelace', 'Hopper', 'Torvalds', 'Hamilton', 'Thompson', 'Liskov', 'Dijkstra', 'Allen', 'Ritchie', 'Perlman'];
const WORDS = ['backup', 'restore', 'schema', 'index', 'vacuum', 'replica', 'snapshot', 'query', 'table', 'cluster', 'journal', 'page'];

function shop(path: string): void {
  const db = new Database(path);
  const r = rng(1);
  db.exec(`
    CREATE TABLE customer (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT UNIQUE, created_at TEXT NOT NULL);
    CREATE TABLE product (id INTEGER PRIMARY KEY, sku TEXT UNIQUE NOT NULL, title TEXT NOT NULL, price_cents INTEGER NOT NULL CHECK (price_cents >= 0));
    CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customer(id), placed_at TEXT NOT NULL, status TEXT NOT NULL);
    CREATE TABLE order_line (order_id INTEGER NOT NULL REFERENCES orders(id), product_id INTEGER NOT NULL REFERENCES product(id), qty INTEGER NOT NULL, PRIMARY KEY (order_id, product_id));
    CREATE INDEX orders_by_customer ON orders(customer_id, placed_at);
    CREATE VIEW order_totals AS SELECT o.id, o.customer_id, SUM(l.qty * p.price_cents) AS total_cents FROM orders o JOIN order_line l ON l.order_id = o.id JOIN product p ON p.id = l.product_id GROUP BY o.id;
  `);
  db.transaction(() => {
    const c = db.prepare('INSERT INTO customer (name, email, created_at) VALUES (?, ?, ?)');
    for (let i = 0; i < 2000; i++) {
      const name = `${FIRST[Math.floor(r() * FIRST.length)]} ${LAST[Math.floor(r() * LAST.length)]}`;
      c.run(name, `user${i}@example.com`, new Date(Date.UTC(2024, 0, 1) + i * 3_600_000).toISOString());
    }
    const p = db.prepare('INSERT INTO product (sku, title, price_cents) VALUES (?, ?, ?)');
    for (let i = 0; i < 300; i++) p.run(`SKU-${String(i).padStart(5, '0')}`, `${WORDS[i % WORDS.length]} kit ${i}`, Math.floor(r() * 20000) + 99);
    const o = db.prepare('INSERT INTO orders (customer_id, placed_at, status) VALUES (?, ?, ?)');
    const l = db.prepare('INSERT OR IGNORE INTO order_line (order_id, product_id, qty) VALUES (?, ?, ?)');
    for (let i = 1; i <= 8000; i++) {
      o.run(1 + Math.floor(r() * 2000), new Date(Date.UTC(2025, 0, 1) + i * 600_000).toISOString(), r() < 0.9 ? 'shipped' : 'open');
      for (let k = 0; k < 3; k++) l.run(i, 1 + Math.floor(r() * 300), 1 + Math.floor(r() * 4));
    }
  })();
  db.close();
}

function inventory(path: string): void {
  const db = new Database(path);
  const r = rng(2);
  db.exec(`
    CREATE TABLE warehouse (id INTEGER PRIMARY KEY, city TEXT NOT NULL);
    CREATE TABLE stock (warehouse_id INTEGER NOT NULL REFERENCES warehouse(id), sku TEXT NOT NULL, qty INTEGER NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (warehouse_id, sku));
    CREATE TABLE stock_audit (id INTEGER PRIMARY KEY, warehouse_id INTEGER, sku TEXT, old_qty INTEGER, new_qty INTEGER, at TEXT);
    CREATE TRIGGER stock_changed AFTER UPDATE OF qty ON stock BEGIN
      INSERT INTO stock_audit (warehouse_id, sku, old_qty, new_qty, at) VALUES (OLD.warehouse_id, OLD.sku, OLD.qty, NEW.qty, NEW.updated_at);
    END;
  `);
  db.transaction(() => {
    for (const city of ['Berlin', 'Lisbon', 'Osaka', 'Toronto']) db.prepare('INSERT INTO warehouse (city) VALUES (?)').run(city);
    const s = db.prepare('INSERT INTO stock (warehouse_id, sku, qty, updated_at) VALUES (?, ?, ?, ?)');
    for (let w = 1; w <= 4; w++) for (let i = 0; i < 3000; i++) s.run(w, `SKU-${String(i).padStart(5, '0')}`, Math.floor(r() * 500), '2025-06-01T00:00:00Z');
  })();
  db.close();
}

function blog(path: string): void {
  const db = new Database(path);
  const r = rng(3);
  db.exec(`
    CREATE TABLE post (id INTEGER PRIMARY KEY, title TEXT NOT NULL, body TEXT NOT NULL, published_at TEXT);
    CREATE TABLE comment (id INTEGER PRIMARY KEY, post_id INTEGER NOT NULL REFERENCES post(id) ON DELETE CASCADE, author TEXT, body TEXT NOT NULL);
    CREATE INDEX comment_by_post ON comment(post_id);
  `);
  db.transaction(() => {
    const p = db.prepare('INSERT INTO post (title, body, published_at) VALUES (?, ?, ?)');
    const c = db.prepare('INSERT INTO comment (post_id, author, body) VALUES (?, ?, ?)');
    for (let i = 1; i <= 400; i++) {
      const words = Array.from({ length: 300 }, () => WORDS[Math.floor(r() * WORDS.length)]).join(' ');
      p.run(`On ${WORDS[i % WORDS.length]}s, part ${i}`, words, new Date(Date.UTC(2023, 0, 1) + i * 86_400_000).toISOString());
      for (let k = 0; k < 5; k++) c.run(i, FIRST[Math.floor(r() * FIRST.length)], `Nice post about ${WORDS[Math.floor(r() * WORDS.length)]}.`);
    }
  })();
  db.close();
}

export const SAMPLE_DATABASES = ['shop.db', 'inventory.db', 'blog.sqlite'] as const;

/** Creates the sample databases in `folder` (those that do not exist yet). */
export function createSampleDatabases(folder: string): string[] {
  mkdirSync(folder, { recursive: true });
  const makers: Record<(typeof SAMPLE_DATABASES)[number], (p: string) => void> = { 'shop.db': shop, 'inventory.db': inventory, 'blog.sqlite': blog };
  for (const name of SAMPLE_DATABASES) {
    const path = join(folder, name);
    if (!existsSync(path)) makers[name](path);
  }
  return SAMPLE_DATABASES.map((n) => join(folder, n));
}
