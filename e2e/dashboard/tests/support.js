// Shared setup of the browser tests: the platform's address and accounts (started by
// scripts/test-dashboard), a chromium page that records console errors, and screenshots.

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

/** Console errors other than the HTTP statuses a step expected (the browser logs each one). */
export function unexpectedConsoleErrors(problems, expectedStatuses) {
  return problems.console.filter((text) => {
    const status = /status of (\d{3})/.exec(text)?.[1];
    return !(status && expectedStatuses.includes(Number(status)));
  });
}
