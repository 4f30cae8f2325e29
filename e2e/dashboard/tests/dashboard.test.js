// The dashboard end to end in chromium: sign up, refusal of the admin page to a normal account,
// the worker's node connected, a function created, its code uploaded, invoked, the task's
// result, pause, an API key created and revoked, the admin's pages (an account disabled), and a
// phone-width layout.
// No console errors beyond the HTTP refusals a step provokes on purpose.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { env, openBrowser, provoking, shoot, signIn, signOut, totp } from './support.js';

let browser;
let page;
let problems;

before(async () => {
  ({ browser, page, problems } = await openBrowser());
});

after(async () => {
  await browser?.close();
});

/** Retries `check` until it stops throwing, or rethrows its last failure after `ms`. */
async function eventually(check, ms = 20000) {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

async function go(hash, heading) {
  await page.goto(`${env.url}/dashboard/${hash}`);
  await page.getByRole('heading', { name: heading, level: 1 }).waitFor();
}

/** Every form control on the page has a label (or an aria-label). */
async function assertLabelled() {
  const unlabelled = await page.evaluate(() =>
    [...document.querySelectorAll('main input, main select, main textarea')]
      .filter((el) => !el.labels?.length && !el.getAttribute('aria-label'))
      .map((el) => el.outerHTML));
  assert.deepEqual(unlabelled, []);
}

function card(name) {
  return page.locator('.card', { has: page.locator('.label', { hasText: new RegExp(`^${name}$`) }) }).locator('.value');
}

let functionUrl = '';

test('GET / leads to sign-in; a new account signs up and is refused the admin page by the API', async () => {
  await page.goto(`${env.url}/`);
  assert.match(page.url(), /\/dashboard\/$/);
  await page.getByRole('heading', { name: 'Sign in to Canopy' }).waitFor();
  await shoot(page, 'sign-in');
  const register = page.locator('form[aria-labelledby="register-title"]');
  await register.getByLabel('First name').fill('Newbie');
  await register.getByLabel('Surname').fill('User');
  await register.getByLabel('Email').fill('newbie@example.com');
  await register.getByLabel('Password').fill(env.password);
  await register.getByRole('button', { name: 'Create account' }).click();
  await page.getByText('Account created').waitFor();

  await signIn(page, 'newbie@example.com');
  assert.equal(await page.locator('#nav-admin').isHidden(), true, 'no Admin link for a normal account');
  await provoking(page, problems, [403], async () => {
    await page.goto(`${env.url}/dashboard/#/admin`);
    await page.getByText('Admins only.').waitFor();
    await page.getByText('ADMIN_REQUIRED').waitFor();
  });
  assert.equal(await page.getByRole('heading', { name: 'System health' }).count(), 0);
  await shoot(page, 'admin-refused');
  await signOut(page);
});

test('the developer sees the worker node connected on the overview and the nodes page', async () => {
  await signIn(page, env.devEmail);
  // A reload keeps the session: the tab's refresh token is traded for a new pair.
  const before = await page.evaluate(() => sessionStorage.getItem('canopy.refreshToken'));
  await page.reload();
  await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
  assert.equal(await page.locator('#who-email').textContent(), env.devEmail);
  const after = await page.evaluate(() => sessionStorage.getItem('canopy.refreshToken'));
  assert.ok(before && after && before !== after, 'the refresh token rotated');
  await eventually(async () => assert.equal(await card('Connected').textContent(), '1'), 30000);
  await go('#/nodes', 'Nodes');
  const row = page.locator('tr', { hasText: 'dashboard test worker' });
  await row.waitFor();
  assert.match(await row.locator('.badge').first().textContent(), /idle|busy/);
  await assertLabelled();
});

test('a function is created, its code uploaded and built, and an invocation shows the response', async () => {
  await go('#/functions', 'Functions');
  const form = page.locator('form[aria-labelledby="create-fn"]');
  await form.getByLabel('Name').fill('Hello');
  await form.getByLabel('Description').fill('Greets whoever asks');
  await form.getByLabel('Language').selectOption('PY');
  await form.getByRole('button', { name: 'Create function' }).click();
  await page.getByRole('heading', { name: 'Hello', level: 1 }).waitFor();
  functionUrl = page.url();
  assert.match(functionUrl, /#\/functions\/[0-9a-f]{32}$/);
  await assertLabelled();

  await page.getByLabel('Code package').setInputFiles(env.codeZip);
  await page.getByRole('button', { name: 'Upload code' }).click();
  await page.getByText(/Build [0-9a-f]{8} created from hello\.zip/).waitFor();
  await page.locator('.badge', { hasText: 'SUCCESS' }).first().waitFor();

  // Keyboard only: type the query, tab to the button, press Enter.
  await page.getByLabel('Query string').focus();
  await page.keyboard.type('name=Ada');
  const invoke = page.getByRole('button', { name: 'Invoke', exact: true });
  for (let i = 0; i < 6 && !(await invoke.evaluate((el) => el === document.activeElement)); i += 1) {
    await page.keyboard.press('Tab');
  }
  await page.keyboard.press('Enter');
  await page.getByText('The function answered HTTP 200.').waitFor({ timeout: 90000 });
  const body = await page.locator('pre[aria-label="Response body"]').textContent();
  if (env.executor === 'docker') assert.match(body, /Hello, Ada!/);
  else assert.ok(body.length > 0);
  await shoot(page, 'function');
});

test('the task succeeded, its result loads when asked for, and a retry succeeds too', async () => {
  await page.locator('.notice.ok + dl a[href^="#/tasks/"]').click();
  await page.getByRole('heading', { name: /^Task [0-9a-f]{32}$/ }).waitFor();
  await page.locator('.badge', { hasText: 'succeeded' }).first().waitFor();
  const attempts = page.locator('section[aria-labelledby="attempts-title"] tbody tr');
  assert.equal(await attempts.count(), 1);
  assert.match(await attempts.first().textContent(), /^1succeeded[0-9a-f]{8}/);
  if (env.executor === 'docker') {
    // Measured by the worker from the container's cgroup.
    assert.match(await page.locator('dd', { hasText: 'CPU-s' }).first().textContent(), /^[\d.e+-]+ Wh · \d+\.\d{2} CPU-s$/);
  }
  assert.equal(await page.locator('pre[aria-label="Result body"]').count(), 0, 'the result is not loaded up front');
  await page.getByRole('button', { name: 'Show result' }).click();
  const result = await page.locator('pre[aria-label="Result body"]').textContent();
  if (env.executor === 'docker') assert.match(result, /Hello, Ada!/);
  await shoot(page, 'task');
  const first = page.url();
  await page.getByRole('button', { name: 'Retry' }).click();
  await page.waitForURL((url) => url.href !== first && /#\/tasks\/[0-9a-f]{32}$/.test(url.href));
  await page.locator('.badge', { hasText: 'succeeded' }).first().waitFor({ timeout: 60000 });

  await go('#/tasks?status=succeeded', 'Tasks');
  await page.locator('tbody tr', { hasText: 'Hello' }).first().waitFor();
  await go('#/tasks?status=queued', 'Tasks');
  await page.getByText('No task matches these filters.').waitFor();
  await go('#/tasks', 'Tasks');
  await assertLabelled();
  await shoot(page, 'tasks');
});

test('pausing the function makes the API refuse new tasks, shown in the invoke form', async () => {
  await page.goto(functionUrl);
  await page.getByRole('heading', { name: 'Hello', level: 1 }).waitFor();
  await page.getByRole('button', { name: 'Pause', exact: true }).click();
  await page.locator('.badge', { hasText: 'paused' }).waitFor();
  await provoking(page, problems, [409], async () => {
    await page.getByRole('button', { name: 'Invoke', exact: true }).click();
    await page.getByText('FUNCTION_PAUSED').waitFor();
  });
  await go('#/functions', 'Functions');
  await page.locator('tr', { hasText: 'Hello' }).locator('.badge', { hasText: 'paused' }).waitFor();
  await shoot(page, 'functions');
});

test("the function's details are edited, a build's log is shown, and a delete is undone", async () => {
  await page.goto(functionUrl);
  await page.getByRole('heading', { name: 'Hello', level: 1 }).waitFor();
  const details = page.locator('section[aria-labelledby="edit-title"]');
  await details.getByLabel('Name').fill('Not a name!');
  await provoking(page, problems, [400], async () => {
    await details.getByRole('button', { name: 'Save details' }).click();
    await details.getByText('VALIDATION_FAILED').waitFor();
  });
  assert.equal(await details.getByLabel('Name').getAttribute('aria-invalid'), 'true');
  await details.getByLabel('Name').fill('Hello');
  await details.getByLabel('Description').fill('Greets politely');
  await details.getByRole('button', { name: 'Save details' }).click();
  await page.locator('dd', { hasText: 'Greets politely' }).waitFor();
  await assertLabelled();

  await page.getByRole('button', { name: /^Log of build [0-9a-f]{8}$/ }).first().click();
  assert.match(await page.locator('pre[aria-label="Build log"]').textContent(), /entry point handler\.py/);
  await shoot(page, 'function-edit');

  const verification = page.locator('section[aria-labelledby="verify-title"]');
  await verification.getByLabel('Quorum').fill('1');
  await provoking(page, problems, [400], async () => {
    await verification.getByRole('button', { name: 'Save verification' }).click();
    await verification.getByText('VALIDATION_FAILED').waitFor();
  });
  assert.equal(await verification.getByLabel('Quorum').getAttribute('aria-invalid'), 'true');
  await verification.getByLabel('Quorum').fill('2');
  await verification.getByRole('button', { name: 'Save verification' }).click();
  await verification.getByText('New tasks need 2 agreeing answers (at most 4 runs).').waitFor();
  assert.equal(await verification.getByLabel('Most runs').inputValue(), '4');
  // Off again: the single test worker could never make a quorum of owners.
  await verification.getByLabel('Quorum').fill('0');
  await verification.getByLabel('Most runs').fill('0');
  await verification.getByRole('button', { name: 'Save verification' }).click();
  await verification.getByText('Verification is off for new tasks.').waitFor();

  await page.getByRole('button', { name: 'Delete', exact: true }).click();
  await page.getByText('is deleted: new tasks are refused').waitFor();
  await page.getByRole('button', { name: 'Restore' }).click();
  await page.getByRole('heading', { name: 'Hello', level: 1 }).waitFor();
  await page.locator('dd', { hasText: 'Greets politely' }).waitFor();
});

test('an API key is shown once at creation and stops working when revoked', async () => {
  await go('#/keys', 'API keys');
  await page.getByLabel('Name').fill('ci');
  await page.getByRole('button', { name: 'Create key' }).click();
  const key = (await page.locator('code[aria-label="The new API key"]').textContent()).trim();
  assert.ok(key.length > 20);
  const exchange = () => fetch(`${env.url}/v1/auth/apiKey`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key }),
  });
  assert.equal((await exchange()).status, 200);
  await shoot(page, 'api-keys');
  await page.getByRole('button', { name: 'Revoke key ci' }).click();
  await page.getByRole('button', { name: 'Revoke key ci' }).waitFor({ state: 'detached' });
  const refused = await exchange();
  assert.equal(refused.status, 401);
  assert.equal((await refused.json()).code, 'INVALID_API_KEY');
});

test('tags, account and overview pages render with data', async () => {
  await go('#/tags', 'Tags');
  await page.getByLabel('Name').fill('prod');
  await page.getByRole('button', { name: 'Add tag' }).click();
  await page.locator('tbody tr', { hasText: 'prod' }).waitFor();
  await assertLabelled();
  await shoot(page, 'tags');
  await go('#/account', 'Account');
  await page.getByRole('heading', { name: 'Two-factor authentication' }).waitFor();
  // The invocation and its retry, counted by the ledger; no quota by default.
  const quota = page.locator('section[aria-labelledby="quota-title"]');
  assert.match(await quota.locator('dd').first().textContent(), /^2 \(no limit\)$/);
  await quota.locator('tbody tr', { hasText: /^\d{4}-\d{2}-\d{2}2$/ }).waitFor();
  await shoot(page, 'account');
  await go('#/overview', 'Overview');
  // The invocation and its retry.
  await eventually(async () => assert.equal(await card('Succeeded').textContent(), '2'), 15000);
  await shoot(page, 'overview');
  await page.getByLabel('Window', { exact: true }).selectOption('5');
  await page.waitForURL(/#\/overview\?minutes=5$/);
  await page.getByText('last 5 minutes ·').waitFor();
  await eventually(async () => assert.equal(await card('Succeeded').textContent(), '2'), 15000);
  await go('#/nodes', 'Nodes');
  await eventually(async () => {
    assert.match(await page.locator('tr', { hasText: 'dashboard test worker' }).textContent(), /2 ok/);
  }, 15000);
  await shoot(page, 'nodes');
});

test('two-factor authentication: set up on the Account page, asked for at sign-in, turned off', async () => {
  await go('#/account', 'Account');
  await page.getByRole('button', { name: 'Set up 2FA' }).click();
  const seed = (await page.locator('dl.facts code.secret').textContent()).trim();
  // Each code works once and only for a later step than the last one used; the server accepts
  // one step either side of now, so the three uses take the previous, current and next step.
  await page.getByLabel('Code', { exact: true }).fill(totp(seed, -1));
  await page.getByRole('button', { name: 'Confirm and turn on' }).click();
  await page.locator('.badge', { hasText: /^on$/ }).waitFor();
  await signOut(page);

  await page.goto(`${env.url}/`);
  const form = page.locator('form[aria-labelledby="signin-title"]');
  await form.getByLabel('Email').fill(env.devEmail);
  await form.getByLabel('Password').fill(env.password);
  await provoking(page, problems, [401], async () => {
    await form.getByRole('button', { name: 'Sign in' }).click();
    await form.getByLabel('Authenticator code').waitFor();
  });
  await form.getByLabel('Authenticator code').fill(totp(seed, 0));
  await form.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();

  await go('#/account', 'Account');
  await page.getByLabel('Current code').fill(totp(seed, 1));
  await page.getByRole('button', { name: 'Turn 2FA off' }).click();
  await page.locator('.badge', { hasText: /^off$/ }).waitFor();
});

test('the skip link moves focus to the content', async () => {
  const skip = page.getByRole('link', { name: 'Skip to content' });
  await skip.focus();
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'main');
});

test('at phone width nothing overflows the page sideways', async () => {
  await page.setViewportSize({ width: 390, height: 844 });
  for (const [hash, heading] of [['#/overview', 'Overview'], ['#/tasks', 'Tasks'], ['#/nodes', 'Nodes']]) {
    await go(hash, heading);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `${hash} overflows by ${overflow}px`);
  }
  await go('#/overview', 'Overview');
  await shoot(page, 'overview-phone');
  await page.setViewportSize({ width: 1280, height: 900 });
  await signOut(page);
});

test('an admin sees system health, every account and every node', async () => {
  await signIn(page, env.adminEmail);
  assert.equal(await page.locator('#nav-admin').isVisible(), true);
  await page.getByRole('link', { name: 'Admin' }).click();
  await page.getByRole('heading', { name: /System health/ }).waitFor();
  await page.locator('.badge', { hasText: 'healthy' }).waitFor();
  for (const email of [env.devEmail, 'newbie@example.com', env.adminEmail]) {
    await page.locator('tbody tr', { hasText: email }).waitFor();
  }
  await shoot(page, 'admin');
  await page.getByRole('button', { name: 'Disable newbie@example.com' }).click();
  await page.locator('tbody tr', { hasText: 'newbie@example.com' }).locator('.badge', { hasText: 'disabled' }).waitFor();
  await go('#/nodes', 'Nodes');
  await page.getByRole('columnheader', { name: 'Owner' }).waitFor();
  await signOut(page);
});

test('a disabled account cannot sign in', async () => {
  await page.goto(`${env.url}/`);
  const form = page.locator('form[aria-labelledby="signin-title"]');
  await form.getByLabel('Email').fill('newbie@example.com');
  await form.getByLabel('Password').fill(env.password);
  await provoking(page, problems, [403], async () => {
    await form.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('ACCOUNT_DISABLED').waitFor();
  });
  assert.equal(await page.locator('#nav').isHidden(), true);
});

test('an admin sets a quota and the developer sees it reached on the Account page', async () => {
  await signIn(page, env.adminEmail);
  await go('#/admin', 'Admin');
  await page.getByRole('button', { name: `Quota of ${env.devEmail}` }).click();
  const editor = page.locator('form[aria-labelledby="quota-editor-title"]');
  await editor.getByText('Now: the platform defaults.', { exact: false }).waitFor();
  await assertLabelled();
  await editor.getByLabel('Tasks per day').fill('2');
  await editor.getByRole('button', { name: 'Save quota' }).click();
  await page.getByText(`Quota of ${env.devEmail} saved`).waitFor();
  await page.getByRole('button', { name: `Quota of ${env.devEmail}` }).click();
  assert.equal(await page.locator('form[aria-labelledby="quota-editor-title"]').getByLabel('Tasks per day').inputValue(), '2');
  await shoot(page, 'admin-quota');
  await signOut(page);

  await signIn(page, env.devEmail);
  await go('#/account', 'Account');
  const quota = page.locator('section[aria-labelledby="quota-title"]');
  assert.match(await quota.locator('dd').first().textContent(), /^2 of 2 reached$/);
  await quota.getByText('an admin, for this account').waitFor();
  await signOut(page);
});

test('an admin creates a pool, changes its members and deletes it', async () => {
  await signIn(page, env.adminEmail);
  await go('#/admin', 'Admin');
  const form = page.locator('form[aria-labelledby="pool-create-title"]');
  await form.getByLabel('Pool name').fill('bad name!');
  await provoking(page, problems, [400], async () => {
    await form.getByRole('button', { name: 'Create pool' }).click();
    await form.getByText('VALIDATION_FAILED').waitFor();
  });
  await form.getByLabel('Pool name').fill('team');
  await form.getByLabel('Pool description').fill('Lab machines');
  await form.getByLabel('Members').selectOption([{ label: env.devEmail }, { label: env.adminEmail }]);
  await form.getByRole('button', { name: 'Create pool' }).click();
  const row = page.locator('section[aria-labelledby="pools-title"] tbody tr', { hasText: 'team' });
  await row.waitFor();
  assert.match(await row.textContent(), new RegExp(`${env.devEmail}, ${env.adminEmail}|${env.adminEmail}, ${env.devEmail}`));
  await assertLabelled();
  await shoot(page, 'admin-pools');

  await page.getByLabel('Members of team', { exact: true }).selectOption([{ label: env.devEmail }]);
  await page.getByRole('button', { name: 'Save members of team' }).click();
  await page.getByText('Members of team saved').waitFor();
  await eventually(async () => assert.doesNotMatch(await row.locator('td').nth(1).textContent(), new RegExp(env.adminEmail)));
  await page.getByRole('button', { name: 'Delete pool team' }).click();
  await page.locator('section[aria-labelledby="pools-title"]').getByText('No pools yet.').waitFor();
  await signOut(page);
});

test('no console errors or uncaught exceptions beyond the refusals provoked on purpose', () => {
  assert.deepEqual(problems.exceptions, []);
  assert.deepEqual(problems.console, []);
});
