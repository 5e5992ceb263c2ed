/**
 * The first thing every user does: open the invite link from `tctl users add` in a browser, set a password, add
 * the authenticator app from the QR code, then `tsh login` and `tsh status`; `tsh logout` ends it.
 */

import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { requireTool } from '@teleport-ts/testkit';
import jsqr from 'jsqr';
import { PNG } from 'pngjs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateTotp, totpUrl } from '@teleport-ts/core/authn';
import { nextTotp, startCluster, type TestCluster } from './tsh-cluster.js';

const browserTool = requireTool('/usr/bin/chromium', 'chromium');
const PASSWORD = 'correct horse battery staple';
// jsqr is CommonJS with an ES-style `default`: under NodeNext the function is that property.
const jsQR = jsqr.default;

/** What a phone camera would read: a screenshot of the element as Chromium drew it, decoded by jsQR. */
async function readQr(page: Page, name: RegExp): Promise<string | undefined> {
  const png = PNG.sync.read(await page.getByRole('img', { name }).screenshot());
  return jsQR(new Uint8ClampedArray(png.data), png.width, png.height)?.data;
}

describe.skipIf(!browserTool.available)('invite link in a browser, then tsh login', () => {
  let cluster: TestCluster;
  let browser: Browser;
  let page: Page;
  const cspViolations: string[] = [];
  let shots: string;

  beforeAll(async () => {
    cluster = await startCluster();
    browser = await chromium.launch({
      executablePath: browserTool.path!,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
    });
    const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 900, height: 1100 } });
    page = await context.newPage();
    page.on('console', (msg) => {
      if (/Content Security Policy/i.test(msg.text())) cspViolations.push(msg.text());
    });
    shots = process.env['E2E_SCREENSHOT_DIR'] ?? path.join(cluster.dir, 'screenshots');
    await mkdir(shots, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await cluster?.stop();
  });

  it('completes the invite on the page, logs in with tsh, shows the status and logs out', async () => {
    const invite = await cluster.addUser('alice', ['--roles=access', '--logins=alice,root']);
    expect(invite).toContain(`https://${cluster.proxyAddr}/web/invite/`);

    const response = await page.goto(invite);
    expect(response?.status()).toBe(200);
    expect(response?.headers()['content-security-policy']).toContain("default-src 'none'");
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Welcome, alice');
    expect(await page.getByRole('img', { name: /QR code/ }).count()).toBe(1);
    const secret = (await page.locator('#totp-secret').textContent())!.replace(/\s+/g, '');
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    // The QR code on the page is the authenticator URL for this secret, exactly.
    expect(await readQr(page, /QR code/)).toBe(totpUrl({ secret, issuer: 'e2e.example.com', account: 'alice' }));

    const password = page.getByLabel('Password', { exact: true });
    const confirm = page.getByLabel('Confirm password');
    const code = page.getByLabel('Authenticator code');
    const submit = page.getByRole('button', { name: 'Create account' });
    const status = page.getByRole('status');

    // Errors are shown on the page: mismatch (checked in the page), weak password and wrong code (from auth).
    await password.fill(PASSWORD);
    await confirm.fill(`${PASSWORD}!`);
    await code.fill(generateTotp(secret, new Date()));
    await submit.click();
    await expect.poll(() => status.textContent()).toBe('Passwords do not match.');

    await password.fill('short');
    await confirm.fill('short');
    await submit.click();
    await expect.poll(() => status.textContent()).toMatch(/at least 12 characters/);

    await password.fill(PASSWORD);
    await confirm.fill(PASSWORD);
    const wrong = String((Number(generateTotp(secret, new Date())) + 1) % 1_000_000).padStart(6, '0');
    await code.fill(wrong);
    await submit.click();
    await expect.poll(() => status.textContent()).toMatch(/invalid one-time code/);
    await page.screenshot({ path: path.join(shots, 'invite-error.png'), fullPage: true });

    await code.fill(generateTotp(secret, new Date()));
    await submit.click();
    await expect.poll(() => status.textContent()).toBe('Your password is set. You can log in now.');
    // The proxy's certificate is self-signed, so the suggestion carries --insecure and works as copied (below).
    const suggested = (await page.locator('#done pre code').textContent())!;
    expect(suggested).toBe(`tsh login --proxy=${cluster.proxyAddr} --user=alice --insecure`);
    await page.screenshot({ path: path.join(shots, 'invite-done.png'), fullPage: true });
    expect(cspViolations).toEqual([]);

    // The link is spent.
    const again = await page.goto(invite);
    expect(again?.status()).toBe(404);
    expect(await page.getByRole('alert').textContent()).toContain('This link has expired or is not valid.');

    const login = await cluster.tsh(suggested.split(' ').slice(1), {
      input: `${PASSWORD}\n${nextTotp(secret)}\n`,
    });
    expect(login.stderr).toBe('Enter password for Teleport user alice: \nEnter an OTP code from a device: \n');
    expect(login.code).toBe(0);
    expect(login.stdout).toContain(`> Profile URL:        https://${cluster.proxyAddr}\n`);

    const status1 = await cluster.tsh(['status']);
    expect(status1.code).toBe(0);
    const lines = status1.stdout.split('\n');
    expect(lines.slice(0, 6)).toEqual([
      `> Profile URL:        https://${cluster.proxyAddr}`,
      '  Logged in as:       alice',
      '  Cluster:            e2e.example.com',
      '  Roles:              access',
      '  Logins:             alice, root',
      '  Kubernetes:         disabled',
    ]);
    expect(lines[6]).toMatch(/^ {2}Valid until: {8}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000 UTC \[valid for (12h0m0s|11h59m0s)\]$/);
    expect(lines[7]).toMatch(/^ {2}Extensions: {9}.*permit-pty/);

    const logout = await cluster.tsh(['logout']);
    expect(logout).toMatchObject({ code: 0, stdout: 'Logged out all users from all proxies.\n' });
    const after = await cluster.tsh(['status']);
    expect(after).toMatchObject({ code: 1, stdout: '', stderr: 'ERROR: Not logged in.\n' });
  });
});
