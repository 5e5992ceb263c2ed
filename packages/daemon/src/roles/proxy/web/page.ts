/**
 * The invite and password-reset pages: one small HTML document, no framework, inline CSS and JS allowed by hash
 * under a strict Content-Security-Policy. The page shows the TOTP QR code (rendered here as SVG) and the secret
 * as text, and posts the form to the JSON API with `fetch`.
 */

import { createHash } from 'node:crypto';
import { qrSvg } from './qr.js';

const STYLE = `
:root{color-scheme:light;--fg:#1b1b1f;--muted:#55576a;--accent:#512fc9;--err:#b3261e;--ok:#1d6b35;--line:#d8d8e0}
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:#f4f4f8}
main{max-width:34rem;margin:2rem auto;padding:2rem;background:#fff;border:1px solid var(--line);border-radius:12px}
h1{font-size:1.5rem;margin:0 0 .25rem}
h2{font-size:1.1rem;margin:1.25rem 0 0}
p{margin:.5rem 0}
.muted{color:var(--muted)}
.qr{display:flex;gap:1.25rem;align-items:center;flex-wrap:wrap;margin:1rem 0;padding:1rem;border:1px solid var(--line);border-radius:8px}
.qr svg{flex:none}
code{font:600 .95rem/1.4 ui-monospace,Menlo,Consolas,monospace;word-break:break-all;background:#f0eefb;padding:.1rem .3rem;border-radius:4px}
label{display:block;font-weight:600;margin:1rem 0 .25rem}
input{width:100%;font:inherit;padding:.6rem .75rem;border:1px solid #8a8aa0;border-radius:6px}
input:focus{outline:3px solid #b9a8f5;border-color:var(--accent)}
.hint{font-size:.875rem;color:var(--muted);margin:.25rem 0 0}
button{margin-top:1.5rem;width:100%;font:600 1rem/1 inherit;padding:.85rem;border:0;border-radius:6px;background:var(--accent);color:#fff;cursor:pointer}
button:disabled{opacity:.6;cursor:progress}
#status{margin-top:1rem;min-height:1.5rem}
#status.error{color:var(--err);font-weight:600}
#status.success{color:var(--ok);font-weight:600}
pre{white-space:pre-wrap;background:#f4f4f8;padding:.75rem;border-radius:6px}
`;

const SCRIPT = `
(function () {
  var form = document.getElementById('setup');
  if (!form) return;
  var status = document.getElementById('status');
  var button = form.querySelector('button');
  function show(kind, text) { status.className = kind; status.textContent = text; }
  form.addEventListener('submit', function (event) {
    event.preventDefault();
    var password = form.elements.namedItem('password').value;
    var confirm = form.elements.namedItem('confirm').value;
    var otp = form.elements.namedItem('otp');
    if (password !== confirm) { show('error', 'Passwords do not match.'); form.elements.namedItem('confirm').focus(); return; }
    var body = { token: form.getAttribute('data-token'), password: password };
    if (otp) body.second_factor_token = otp.value.replace(/\\s+/g, '');
    button.disabled = true;
    show('', 'Saving...');
    fetch('/v1/webapi/users/password/token', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), credentials: 'same-origin' })
      .then(function (res) { return res.json().catch(function () { return {}; }).then(function (data) { return { ok: res.ok, data: data }; }); })
      .then(function (r) {
        if (r.ok) {
          form.hidden = true;
          Array.prototype.forEach.call(document.querySelectorAll('[data-hide-on-done]'), function (e) { e.hidden = true; });
          var done = document.getElementById('done');
          done.hidden = false;
          show('success', 'Your password is set. You can log in now.');
          done.focus();
        } else {
          show('error', (r.data && r.data.error && r.data.error.message) || 'Something went wrong. Try again.');
          button.disabled = false;
        }
      })
      .catch(function () { show('error', 'Cannot reach the proxy. Check your connection and try again.'); button.disabled = false; });
  });
})();
`;

const hash = (text: string): string => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

/** The page's Content-Security-Policy: nothing but its own inline script and style, and fetches to itself. */
export const PAGE_CSP = [
  "default-src 'none'",
  `script-src ${hash(SCRIPT)}`,
  `style-src ${hash(STYLE)}`,
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

/** Headers every page and API response of the proxy carries. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  // The token is in the URL: never send it to another site.
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
  'strict-transport-security': 'max-age=31536000',
});

const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${body}
</main>
<script>${SCRIPT}</script>
</body>
</html>
`;
}

/** What the invite/reset page shows. */
export interface UserTokenPageInput {
  kind: 'invite' | 'reset';
  token: string;
  user: string;
  clusterName: string;
  /** `host:port` users pass to `tsh login --proxy`. */
  proxyAddr: string;
  /** The proxy's certificate is self-signed: tsh needs `--insecure` (on every command, as Teleport's tsh). */
  insecure?: boolean;
  minPasswordLength: number;
  /** Present when the cluster asks for an authenticator app. */
  totp?: { secret: string; url: string };
}

/** Groups a base32 secret in fours, as authenticator apps show it. */
function groupSecret(secret: string): string {
  return secret.replace(/(.{4})(?=.)/g, '$1 ');
}

/**
 * The invite (`/web/invite/<token>`) or reset (`/web/reset/<token>`) page.
 *
 * @example
 * ```ts
 * res.end(userTokenPage({ kind: 'invite', token, user: 'alice', clusterName, proxyAddr, minPasswordLength: 12, totp }));
 * ```
 */
export function userTokenPage(input: UserTokenPageInput): string {
  const user = escapeHtml(input.user);
  const heading = input.kind === 'invite' ? `Welcome, ${user}` : `Reset the password of ${user}`;
  const intro =
    input.kind === 'invite'
      ? `You are invited to the Teleport cluster <strong>${escapeHtml(input.clusterName)}</strong>. Choose a password${input.totp ? ' and add an authenticator app' : ''} to finish setting up your account.`
      : `Choose a new password for your account on <strong>${escapeHtml(input.clusterName)}</strong>${input.totp ? ' and add your authenticator app again' : ''}.`;
  const totp = input.totp
    ? `<section aria-labelledby="totp-heading" data-hide-on-done>
<h2 id="totp-heading">1. Add an authenticator app</h2>
<div class="qr">
${qrSvg(input.totp.url, { title: `QR code: scan it with an authenticator app to add ${input.user} on ${input.clusterName}`, pixels: 180 })}
<div>
<p>Scan the QR code with an authenticator app (Google Authenticator, Authy, 1Password...).</p>
<p>Cannot scan it? Enter this key instead:<br><code id="totp-secret" data-secret="${escapeHtml(input.totp.secret)}">${escapeHtml(groupSecret(input.totp.secret))}</code></p>
</div>
</div>
</section>`
    : '';
  const step = input.totp ? '<h2 id="password-heading" data-hide-on-done>2. Choose a password</h2>' : '';
  const otpField = input.totp
    ? `<label for="otp">Authenticator code</label>
<input id="otp" name="otp" type="text" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]*" maxlength="8" required aria-describedby="otp-hint">
<p class="hint" id="otp-hint">The 6-digit code your authenticator app shows now.</p>`
    : '';
  const body = `<h1>${heading}</h1>
<p class="muted">${intro}</p>
${totp}
${step}
<form id="setup" data-token="${escapeHtml(input.token)}" novalidate>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="new-password" required aria-describedby="password-hint">
<p class="hint" id="password-hint">At least ${input.minPasswordLength} characters.</p>
<label for="confirm">Confirm password</label>
<input id="confirm" name="confirm" type="password" autocomplete="new-password" required>
${otpField}
<button type="submit">${input.kind === 'invite' ? 'Create account' : 'Reset password'}</button>
</form>
<div id="status" role="status" aria-live="polite"></div>
<section id="done" tabindex="-1" hidden>
<p>Log in from a terminal:</p>
<pre><code>${escapeHtml(tshLoginCommand(input.proxyAddr, input.insecure === true, input.user))}</code></pre>${
    input.insecure === true ? '\n<p class="hint">This proxy uses a self-signed certificate: pass <code>--insecure</code> to every tsh command.</p>' : ''
  }
</section>`;
  return layout(input.kind === 'invite' ? 'Teleport: set up your account' : 'Teleport: reset your password', body);
}

/**
 * The `tsh login` a page suggests: with `--insecure` when the proxy's certificate is self-signed, so that it works
 * when copied (tsh does not remember the flag, as Teleport's does not).
 *
 * @example
 * ```ts
 * tshLoginCommand('proxy.example.com:3080', true, 'alice') // 'tsh login --proxy=proxy.example.com:3080 --user=alice --insecure'
 * ```
 */
export function tshLoginCommand(proxyAddr: string, insecure: boolean, user?: string): string {
  return ['tsh', 'login', `--proxy=${proxyAddr}`, ...(user !== undefined ? [`--user=${user}`] : []), ...(insecure ? ['--insecure'] : [])].join(' ');
}

/** A page that only says what went wrong (expired link, unknown page). */
export function messagePage(title: string, message: string): string {
  return layout(title, `<h1>${escapeHtml(title)}</h1>\n<p role="alert">${escapeHtml(message)}</p>`);
}
