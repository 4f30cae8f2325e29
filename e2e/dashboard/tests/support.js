// Shared setup of the browser tests: the platform's address and accounts (started by
// scripts/test-dashboard), a chromium page that records console errors, and screenshots.

import { createHmac } from 'node:crypto';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const env = {
  url: required('CANOPY_URL'),
  adminEmail: required('CANOPY_ADMIN_EMAIL'),
  devEmail: required('CANOPY_DEV_EMAIL'),
  password: required('CANOPY_PASSWORD'),
  executor: process.env.CANOPY_EXECUTOR || 'docker',
  codeZip: required('CANOPY_CODE_ZIP'),
  screenshots: process.env.CANOPY_SCREENSHOTS || '',
};

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the browser tests through scripts/test-dashboard`);
  return value;
}

/** A browser and a page whose console errors and uncaught exceptions are recorded. */
export async function openBrowser() {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  const problems = { console: [], exceptions: [] };
  page.on('console', (message) => {
    if (message.type() === 'error') problems.console.push(message.text());
  });
  page.on('pageerror', (error) => problems.exceptions.push(String(error)));
  // Confirmation dialogs (revoke, delete) are accepted, as a user who meant it would.
  page.on('dialog', (dialog) => dialog.accept());
  return { browser, context, page, problems };
}

/** A full-page screenshot named after the page, when screenshots are wanted. */
export async function shoot(page, name) {
  if (!env.screenshots) return;
  await page.screenshot({ path: path.join(env.screenshots, `${name}.png`), fullPage: true });
}

export async function signIn(page, email, password = env.password) {
  await page.goto(`${env.url}/`);
  await page.getByRole('heading', { name: 'Sign in to Canopy' }).waitFor();
  const form = page.locator('form[aria-labelledby="signin-title"]');
  await form.getByLabel('Email').fill(email);
  await form.getByLabel('Password').fill(password);
  await form.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
}

export async function signOut(page) {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Sign in to Canopy' }).waitFor();
}

/**
 * Runs `action`, a step that provokes refusals on purpose: the browser logs each non-2xx
 * response as a console error, so those with one of `statuses` logged during the step are
 * dropped. Anything else stays recorded for the final check.
 */
export async function provoking(page, problems, statuses, action) {
  const start = problems.console.length;
  await action();
  // The browser reports a failed response on the console a moment after the page has seen it.
  await page.waitForTimeout(300);
  const during = problems.console.splice(start);
  problems.console.push(...during.filter((text) => {
    const status = /status of (\d{3})/.exec(text)?.[1];
    return !(status && statuses.includes(Number(status)));
  }));
}

/** The current RFC 6238 code of a base32 seed, `offset` 30-second steps from now. */
export function totp(seed, offset = 0) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const char of seed.replace(/=+$/, '')) bits += alphabet.indexOf(char).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((byte) => parseInt(byte, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30000) + offset));
  const digest = createHmac('sha1', key).update(counter).digest();
  const at = digest[digest.length - 1] & 0x0f;
  return String((digest.readUInt32BE(at) & 0x7fffffff) % 1000000).padStart(6, '0');
}
