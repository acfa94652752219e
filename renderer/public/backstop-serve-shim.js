/*
 * The browser bridge of `backstop serve` (electron/serve/server.ts serves it as
 * /backstop-serve.js, after a line that sets window.__BACKSTOP_SERVE__ = { commands, events }).
 * It installs `window.backstop` exactly as the Electron preload does — one function per
 * contract command plus `on(event, listener)` — so the renderer runs unchanged, and carries
 * each call over one WebSocket (/api/ws) to the server, which parses and dispatches it as the
 * Electron main process does. Engine events arrive on the same socket.
 *
 * - `dialog.chooseFolder` / `dialog.saveFile` open a folder browser of the SERVER's folders
 *   (only those `--allow-folder` opened), drawn here with DOM calls; they answer
 *   `{ path }` or `{ path: null }` when the user cancels, like the native dialogs.
 * - `shell: 'browser'` tells the window it runs in a browser (no drag and drop of folders).
 * - A lost connection answers pending calls with a failure and reconnects; a session that
 *   ended (close code 4401) reloads the page, which then shows the sign-in page.
 * Electron never loads this file.
 */
(function () {
  'use strict';
  var config = window.__BACKSTOP_SERVE__;
  if (!config) return;
  var commands = config.commands;
  var events = config.events;
  var listeners = new Map();
  var pending = new Map();
  var queue = [];
  var nextId = 1;
  var socket = null;
  var retryMs = 500;

  function lost(message) {
    return { ok: false, code: 'INTERNAL', message: message, retryable: true };
  }

  function connect() {
    // Relative to the page, so the window works under a reverse proxy's path prefix (/backstop/).
    var ws = new WebSocket(new URL('api/ws', location.href).href.replace(/^http/, 'ws'));
    socket = ws;
    ws.onopen = function () {
      retryMs = 500;
      var q = queue;
      queue = [];
      q.forEach(function (text) { ws.send(text); });
    };
    ws.onmessage = function (e) {
      var msg;
      try { msg = JSON.parse(e.data); } catch { return; }
      if (msg && typeof msg.event === 'string') {
        var set = listeners.get(msg.event);
        if (set) Array.from(set).forEach(function (l) { try { l(msg.payload); } catch (err) { console.error(err); } });
        return;
      }
      var p = pending.get(msg.id);
      if (p) { pending.delete(msg.id); p(msg.result); }
    };
    ws.onclose = function (e) {
      socket = null;
      pending.forEach(function (resolve) { resolve(lost('The connection to the Backstop server was lost. It reconnects by itself; try again in a moment.')); });
      pending.clear();
      if (e.code === 4401) { location.reload(); return; }
      // A refused upgrade (the session ended meanwhile) looks like any lost connection: ask.
      var wait = retryMs;
      retryMs = Math.min(retryMs * 2, 16000);
      fetch('api/session', { credentials: 'same-origin' }).then(function (r) {
        if (r.status === 401) location.reload();
        else setTimeout(connect, wait);
      }, function () { setTimeout(connect, wait); });
    };
  }

  function send(message) {
    return new Promise(function (resolve) {
      var id = nextId++;
      message.id = id;
      pending.set(id, resolve);
      var text = JSON.stringify(message);
      if (socket && socket.readyState === 1) socket.send(text);
      else queue.push(text);
    });
  }

  // ── the folder browser (server side folders) ──
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function folderDialog(command, input) {
    return send({ op: 'dialog', command: command, payload: input }).then(function (start) {
      if (!start.ok) return start;
      return new Promise(function (resolve) {
        var saving = command === 'dialog.saveFile';
        // A modal <dialog> sits in the top layer, above any dialog the window has open.
        var backdrop = el('dialog', { 'data-testid': 'serve-folder-dialog', 'aria-label': input.title });
        backdrop.style.cssText = 'border:none;border-radius:8px;padding:0;font:14px/1.5 system-ui,sans-serif';
        var box = el('div');
        box.style.cssText = 'background:Canvas;color:CanvasText;padding:16px;width:min(560px,92vw);max-height:80vh;display:grid;gap:8px;grid-template-rows:auto auto auto 1fr auto auto;box-sizing:border-box';
        var title = el('h2', {}, input.title);
        title.style.cssText = 'margin:0;font-size:16px';
        var note = el('p', {}, 'Folders on the Backstop server (' + location.host + '), not on this computer.');
        note.style.cssText = 'margin:0;opacity:.75;font-size:12px';
        var where = el('div', { 'data-testid': 'serve-folder-path' });
        where.style.cssText = 'font-family:monospace;word-break:break-all';
        var list = el('ul', { 'data-testid': 'serve-folder-list' });
        list.style.cssText = 'list-style:none;margin:0;padding:0;overflow:auto;min-height:120px;border:1px solid GrayText;border-radius:4px';
        var error = el('p', { role: 'alert', 'data-testid': 'serve-folder-error' });
        error.style.cssText = 'margin:0;color:#b3261e';
        var name = el('input', { type: 'text', 'aria-label': 'File name', 'data-testid': 'serve-file-name' });
        name.value = input.defaultPath ? input.defaultPath.split(/[\\/]/).pop() : '';
        var buttons = el('div');
        buttons.style.cssText = 'display:flex;gap:8px;justify-content:flex-end';
        var cancel = el('button', { type: 'button', 'data-testid': 'serve-folder-cancel' }, 'Cancel');
        var choose = el('button', { type: 'button', 'data-testid': 'serve-folder-choose' }, saving ? 'Save here' : 'Choose this folder');
        buttons.append(cancel, choose);
        box.append(title, note, where, list, error);
        if (saving) box.append(name);
        box.append(buttons);
        backdrop.append(box);
        var current = null;

        function show(listing) {
          current = listing;
          error.textContent = '';
          where.textContent = listing.path;
          list.replaceChildren();
          function row(label, path, testid) {
            var li = el('li');
            var b = el('button', { type: 'button', 'data-testid': testid }, label);
            b.style.cssText = 'all:unset;cursor:pointer;display:block;padding:4px 8px;width:100%;box-sizing:border-box';
            b.addEventListener('click', function () { go(path); });
            li.append(b);
            list.append(li);
          }
          if (listing.parent) row('⬑ ..', listing.parent, 'serve-folder-up');
          listing.folders.forEach(function (f) { row('📁 ' + f, listing.path.replace(/[\\/]$/, '') + '/' + f, 'serve-folder-item'); });
          listing.roots.filter(function (r) { return r !== listing.path; }).forEach(function (r) { row('⌂ ' + r, r, 'serve-folder-root'); });
        }
        function go(path) {
          send({ op: 'browse', path: path }).then(function (r) {
            if (r.ok) show(r.data);
            else error.textContent = r.message;
          });
        }
        var done = false;
        function finish(answer) {
          if (done) return;
          done = true;
          backdrop.close();
          backdrop.remove();
          resolve(answer);
        }
        backdrop.addEventListener('cancel', function (e) { e.preventDefault(); finish({ ok: true, data: { path: null } }); });
        cancel.addEventListener('click', function () { finish({ ok: true, data: { path: null } }); });
        choose.addEventListener('click', function () {
          if (!current) return;
          if (!saving) return finish({ ok: true, data: { path: current.path } });
          send({ op: 'checkSave', path: current.path.replace(/[\\/]$/, '') + '/' + name.value.trim() }).then(function (r) {
            if (r.ok) finish({ ok: true, data: { path: r.data.path } });
            else error.textContent = r.message;
          });
        });
        document.body.append(backdrop);
        backdrop.showModal();
        show(start.data);
        (saving ? name : choose).focus();
      });
    });
  }

  var bridge = { shell: 'browser' };
  commands.forEach(function (name) {
    bridge[name] = name === 'dialog.chooseFolder' || name === 'dialog.saveFile'
      ? function (input) { return folderDialog(name, input); }
      : function (input) { return send({ command: name, payload: input }); };
  });
  bridge.on = function (event, listener) {
    if (events.indexOf(event) < 0) throw new Error('Unknown Backstop event "' + String(event).slice(0, 64) + '".');
    if (typeof listener !== 'function') throw new TypeError('The event listener must be a function.');
    var set = listeners.get(event);
    if (!set) { set = new Set(); listeners.set(event, set); }
    var own = function (p) { listener(p); };
    set.add(own);
    var subscribed = true;
    return function () {
      if (!subscribed) return;
      subscribed = false;
      set.delete(own);
    };
  };
  Object.defineProperty(window, 'backstop', { value: Object.freeze(bridge), enumerable: true });
  connect();
})();
