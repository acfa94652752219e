/**
 * The sign-in page of a served window: a plain form (no script, so the strict CSP holds)
 * that posts the token or password to `action` — relative to the page (server.ts
 * `relativeRoot`), so it works under a reverse proxy's path prefix. `message` is shown above
 * the form; it is HTML-escaped.
 */
function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export function loginPage(message?: string, action = './login'): string {
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="UTF-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1.0" />
    <meta name="color-scheme" content="light dark" />
    <link rel="icon" href="data:," />
    <title>Sign in — Backstop</title>
    <style>
      body { font: 15px/1.5 system-ui, sans-serif; display: grid; place-items: center; min-height: 100vh; margin: 0; }
      form { width: min(26rem, 90vw); display: grid; gap: .75rem; }
      input { font: inherit; padding: .5rem; }
      button { font: inherit; padding: .5rem 1rem; justify-self: start; }
      .error { color: #b3261e; }
    </style>
  </head>
  <body>
    <form method="post" action="${escapeHtml(action)}" data-testid="serve-login">
      <h1>Sign in to Backstop</h1>
      ${message ? `<p class="error" role="alert" data-testid="serve-login-error">${escapeHtml(message)}</p>` : ''}
      <label for="secret">The token <code>backstop serve</code> printed when it started (or the password set with BACKSTOP_SERVE_PASSWORD)</label>
      <input id="secret" name="secret" type="password" autocomplete="current-password" required autofocus />
      <button type="submit">Sign in</button>
    </form>
  </body>
</html>
`;
}
