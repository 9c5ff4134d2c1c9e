// Drives otp-local's demo page in Debian's Chromium with playwright-core: both flows end to end,
// keyboard only, on a phone-sized screen. Run by tests/browser.sh:
//   node run.mjs BASE_URL [test name ...]
// A failing test saves a screenshot to target/browser-failure-<name>.png and the run exits non-zero;
// with OTP_BROWSER_SCREENSHOTS=1 each passing test leaves target/browser-<name>.png too.
import crypto from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const base = (process.argv[2] || process.env.OTP_BASE_URL || '').replace(/\/?$/, '/');
if (base === '/') {
  console.error('usage: node run.mjs BASE_URL [test name ...]');
  process.exit(2);
}
const only = process.argv.slice(3);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const screenshots = path.join(root, 'target');
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';

const DESKTOP = { viewport: { width: 1280, height: 800 } };
const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 3, isMobile: true, hasTouch: true };

// ---- a small harness ---------------------------------------------------------------------------------

const tests = [];
const test = (name, options, body) => tests.push({ name, options, body });

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

/** Waits until the locator's text matches `expected` (a string it contains, or a RegExp). */
async function expectText(locator, expected, timeout = 10_000) {
  const matches = (text) => (expected instanceof RegExp ? expected.test(text) : text.includes(expected));
  const deadline = Date.now() + timeout;
  let text = null;
  for (;;) {
    text = (await locator.count()) > 0 ? await locator.first().textContent() : null;
    if (text !== null && matches(text)) return text;
    if (Date.now() > deadline) {
      throw new Error(`expected ${locator} to have text ${expected}, but it has ${JSON.stringify(text)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function expectVisible(locator, timeout = 10_000) {
  await locator.waitFor({ state: 'visible', timeout });
}

// ---- what a phone and an authenticator app would do -------------------------------------------------

/** The newest outbox message's code, for `to`, from the API (as otp-local's outbox holds it). */
async function codeFromOutbox(page, to) {
  const response = await page.request.get(new URL('_local/outbox', base).href);
  assert(response.ok(), `GET /_local/outbox answered ${response.status()}`);
  const messages = (await response.json()).filter((m) => m.to === to);
  assert(messages.length > 0, `no message to ${to} in the outbox`);
  return codeIn(messages[messages.length - 1].body);
}

function codeIn(body) {
  // A call says its digits one by one ("4 0 1 2 7 7"); an SMS or email has them together.
  const spoken = /\b(\d(?: \d){5})\b/.exec(body || '')?.[1];
  if (spoken) return spoken.replace(/ /g, '');
  const code = /\b(\d{6})\b/.exec(body || '')?.[1];
  assert(code, `no six-digit code in ${JSON.stringify(body)}`);
  return code;
}

/** A code that is certainly wrong: every digit moved by one. */
const wrong = (code) => code.replace(/\d/g, (d) => String((Number(d) + 1) % 10));

function base32(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const bytes = [];
  for (const c of text.replace(/[\s=]/g, '').toUpperCase()) {
    const index = alphabet.indexOf(c);
    assert(index >= 0, `not base32: ${text}`);
    value = ((value << 5) | index) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bytes.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(bytes);
}

/** RFC 6238 TOTP (HMAC-SHA1, RFC 4226 dynamic truncation): what the authenticator app shows now. */
function totp(secret, { period = 30, digits = 6, now = Date.now() } = {}) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(now / 1000 / period)));
  const mac = crypto.createHmac('sha1', base32(secret)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const number = (mac.readUInt32BE(offset) & 0x7fffffff) % 10 ** digits;
  return String(number).padStart(digits, '0');
}

// ---- checks shared by the tests ---------------------------------------------------------------------

/** Records the page's API calls from now on: [{method, path, body}] (path relative to the base). */
function recordCalls(page) {
  const calls = [];
  page.on('request', (request) => {
    if (!request.url().startsWith(base) || request.resourceType() !== 'fetch') return;
    let body = null;
    try { body = request.postData() ? JSON.parse(request.postData()) : null; } catch { body = request.postData(); }
    calls.push({ method: request.method(), path: request.url().slice(base.length), body });
  });
  return calls;
}

/** The fields a browser may send to the public send (everything else is for the backend). */
const PUBLIC_SEND_FIELDS = ['profile', 'channel', 'to', 'purpose', 'locale', 'origin', 'app_hash', 'fallback'];

function assertFields(call, allowed) {
  const extra = Object.keys(call.body || {}).filter((name) => !allowed.includes(name));
  assert(extra.length === 0, `${call.method} /${call.path} sent ${extra.join(', ')}: ${JSON.stringify(call.body)}`);
}

/** The page's proof: approved, signature valid, and the claim `name` holding `value`. */
async function expectProof(page, prefix, name, value) {
  await expectText(page.locator(`#${prefix}-proof-signature`), /^signature valid: Ed25519, key /);
  const claim = page.locator(`#${prefix}-proof-claims dt[data-claim="${name}"] + dd`);
  await expectText(claim, value);
}

async function sendCode(page, to) {
  await page.locator('#send-to').fill(to);
  await page.getByRole('button', { name: 'Send code' }).click();
  await expectText(page.locator('#otp-status'), 'Code sent to');
  await expectVisible(page.locator('#verify-form'));
}

/** The code in the newest message of the outbox panel on the page, which must be to `to`. */
async function codeFromOutboxPanel(page, to) {
  const newest = page.locator('#outbox-list li').first();
  await expectText(newest.locator('.to'), to);
  return codeIn(await newest.locator('.body').textContent());
}

// ---- the tests --------------------------------------------------------------------------------------

test('static-assets', DESKTOP, async (page) => {
  for (const [asset, type] of [['', 'text/html'], ['demo.js', 'text/javascript'], ['demo.css', 'text/css']]) {
    const response = await page.request.get(new URL(asset, base).href);
    assert(response.status() === 200, `GET /${asset} answered ${response.status()}`);
    const contentType = response.headers()['content-type'] || '';
    assert(contentType.startsWith(type), `GET /${asset} has content-type ${contentType}, expected ${type}`);
  }
});

test('sms', DESKTOP, async (page) => {
  await page.goto(base);
  await expectText(page.locator('h1'), 'otp-lambda demo');
  // Accessibility basics: every input labelled, code inputs for one-time codes, a live status region.
  const unlabelled = await page.$$eval('input, select, textarea', (inputs) =>
    inputs.filter((input) => input.labels.length === 0).map((input) => input.id || input.name));
  assert(unlabelled.length === 0, `inputs without a label: ${unlabelled.join(', ')}`);
  for (const id of ['otp-code', 'totp-code']) {
    const input = page.locator(`#${id}`);
    assert((await input.getAttribute('autocomplete')) === 'one-time-code', `#${id} lacks autocomplete=one-time-code`);
    assert((await input.getAttribute('inputmode')) === 'numeric', `#${id} lacks inputmode=numeric`);
  }
  for (const id of ['otp-status', 'totp-status']) {
    assert((await page.locator(`#${id}`).getAttribute('aria-live')) === 'polite', `#${id} is not an aria-live region`);
  }
  await expectVisible(page.locator('#outbox'));

  const calls = recordCalls(page);
  const to = '+447911123401';
  await sendCode(page, to);
  const code = await codeFromOutboxPanel(page, to);
  assert(code === (await codeFromOutbox(page, to)), 'the outbox panel and /_local/outbox disagree');
  await page.getByLabel('Code', { exact: true }).fill(code);
  await page.getByRole('button', { name: 'Verify' }).click();
  await expectText(page.locator('#otp-result-status'), 'approved');
  // The page asks only what a browser may: the public send's fields, the verify's id and code.
  const sends = calls.filter((c) => c.method === 'POST' && c.path === 'v1/otp/send');
  const verifies = calls.filter((c) => c.method === 'POST' && c.path === 'v1/otp/verify');
  assert(sends.length === 1 && verifies.length === 1, `calls: ${JSON.stringify(calls)}`);
  assertFields(sends[0], PUBLIC_SEND_FIELDS);
  assert(sends[0].body.to === to && sends[0].body.channel === 'sms', JSON.stringify(sends[0].body));
  assertFields(verifies[0], ['id', 'code']);
  await expectProof(page, 'otp', 'phone_number', to);
  await expectProof(page, 'otp', 'method', 'sms');
  await expectText(page.locator('#otp-status'), /^approved: .* Proof token: signature valid\.$/);
  // The page's check is real: a token with a changed claim fails it.
  await page.getByRole('button', { name: 'Check a tampered copy' }).click();
  await expectText(page.locator('#otp-proof-tampered'), 'signature INVALID');
  await expectText(page.locator('#otp-proof-signature'), 'signature valid');
});

test('wrong-code', DESKTOP, async (page) => {
  await page.goto(base);
  const to = '+447911123402';
  await sendCode(page, to);
  const code = await codeFromOutboxPanel(page, to);
  await page.locator('#otp-code').fill(wrong(code));
  await page.locator('#otp-code').press('Enter');
  await expectText(page.locator('#otp-result-status'), 'incorrect');
  await expectText(page.locator('#otp-status'), 'Attempts remaining: 4');
  assert(await page.locator('#otp-proof').isHidden(), 'a proof is shown for a wrong code');
  assert((await page.locator('#otp-code').getAttribute('aria-invalid')) === 'true', 'the code input is not marked invalid');
  // Then the right one still works.
  await page.locator('#otp-code').fill(code);
  await page.locator('#otp-code').press('Enter');
  await expectText(page.locator('#otp-result-status'), 'approved');
  await expectProof(page, 'otp', 'phone_number', to);
});

test('call-me-instead', DESKTOP, async (page) => {
  const calls = recordCalls(page);
  await page.goto(base);
  const to = '+447911123419';
  await sendCode(page, to);
  const smsCode = await codeFromOutboxPanel(page, to);
  // Offered after an SMS; too soon it says so (the resend cooldown), then it calls.
  const callInstead = page.getByRole('button', { name: 'Call me instead' });
  await expectVisible(callInstead);
  await callInstead.click();
  await expectText(page.locator('#otp-status'), /too soon|moments ago/i);
  await new Promise((resolve) => setTimeout(resolve, 2_100));
  await callInstead.click();
  await expectText(page.locator('#otp-status'), 'Calling');
  const newest = page.locator('#outbox-list li').first();
  await expectText(newest.locator('.badge').first(), 'voice');
  await expectText(newest, 'The call says:');
  const code = await codeIn(await newest.locator('.spoken').textContent());
  assert(await callInstead.isHidden(), 'Call me instead is offered after a call');
  const sends = calls.filter((c) => c.method === 'POST' && c.path === 'v1/otp/send');
  assert(sends.length === 3, `sends: ${JSON.stringify(sends.map((c) => c.body))}`);
  assert(sends[2].body.channel === 'voice' && sends[2].body.to === to, JSON.stringify(sends[2].body));
  for (const send of sends) assertFields(send, PUBLIC_SEND_FIELDS);
  // The call's code replaced the SMS's: the old one is refused, the spoken one approved.
  if (smsCode !== code) {
    await page.locator('#otp-code').fill(smsCode);
    await page.locator('#otp-code').press('Enter');
    await expectText(page.locator('#otp-result-status'), /incorrect/);
  }
  await page.locator('#otp-code').fill(code);
  await page.locator('#otp-code').press('Enter');
  await expectText(page.locator('#otp-result-status'), 'approved');
  await expectProof(page, 'otp', 'method', 'voice');
  await expectProof(page, 'otp', 'phone_number', to);
  // The approval told the "provider" the call arrived: the outbox marks it.
  const response = await page.request.get(new URL('_local/outbox', base).href);
  const voice = (await response.json()).filter((m) => m.to === to && m.channel === 'voice');
  assert(voice.length === 1 && voice[0].feedback === 'RECEIVED', JSON.stringify(voice));
});

test('problem-detail', DESKTOP, async (page) => {
  await page.goto(base);
  await page.locator('#send-to').fill('not a number');
  await page.locator('#send-to').press('Enter');
  // A problem+json reply is shown by its detail, and the field it names is marked.
  await expectText(page.locator('#otp-status'), '`to` must be a phone number in international form');
  assert((await page.locator('#send-to').getAttribute('aria-invalid')) === 'true', 'the to input is not marked invalid');
  assert(await page.locator('#verify-form').isHidden(), 'the code form appeared after a refused send');
});

test('email', DESKTOP, async (page) => {
  const calls = recordCalls(page);
  await page.goto(base);
  await page.getByLabel('Email', { exact: true }).check();
  const to = 'ada+browser@example.com';
  await page.getByLabel('Email address').fill(to);
  await page.getByRole('button', { name: 'Send code' }).click();
  await expectText(page.locator('#otp-status'), 'Code sent to');
  const code = await codeFromOutboxPanel(page, to);
  await expectText(page.locator('#outbox-list li').first(), 'Subject: ');
  await page.locator('#otp-code').fill(code);
  await page.locator('#otp-code').press('Enter');
  await expectText(page.locator('#otp-result-status'), 'approved');
  await expectProof(page, 'otp', 'email', to);
  await expectProof(page, 'otp', 'email_verified', 'true');
  for (const call of calls.filter((c) => c.path === 'v1/otp/send')) assertFields(call, PUBLIC_SEND_FIELDS);
});

test('keyboard', DESKTOP, async (page) => {
  await page.goto(base);
  const focused = () => page.evaluate(() => document.activeElement?.id || document.activeElement?.tagName);
  // Tab from the top of the page to the destination field, as a keyboard user would.
  let steps = 0;
  while ((await focused()) !== 'send-to') {
    assert(++steps <= 10, `Tab never reached #send-to (stuck on ${await focused()})`);
    await page.keyboard.press('Tab');
  }
  const outline = await page.$eval('#send-to', (input) => getComputedStyle(input).outlineStyle);
  assert(outline !== 'none', 'the focused input has no visible focus outline');
  await page.keyboard.press('ControlOrMeta+A');
  const to = '+447911123403';
  await page.keyboard.type(to);
  await page.keyboard.press('Enter');
  // After a send, focus moves to the code input.
  await expectText(page.locator('#otp-status'), 'Code sent to');
  await page.waitForFunction(() => document.activeElement?.id === 'otp-code');
  await page.keyboard.type(await codeFromOutbox(page, to));
  await page.keyboard.press('Enter');
  await expectText(page.locator('#otp-result-status'), 'approved');
  await expectProof(page, 'otp', 'phone_number', to);

  // The tabs: arrow keys move between them, and the panel follows.
  await page.locator('#tab-sent').focus();
  await page.keyboard.press('ArrowRight');
  assert((await focused()) === 'tab-totp', 'ArrowRight did not move to the second tab');
  await expectVisible(page.locator('#panel-totp'));
  assert(await page.locator('#panel-sent').isHidden(), 'the first panel is still shown');
  await page.keyboard.press('Tab');
  assert((await focused()) === 'enroll-user', `Tab from the tab went to ${await focused()}, not the user id`);
  await page.keyboard.press('Enter'); // submits the enrolment form with its defaults
  await expectVisible(page.locator('#enrolled'));
  await page.waitForFunction(() => document.activeElement?.id === 'totp-code');
});

test('totp-phone', PHONE, async (page) => {
  const calls = recordCalls(page);
  await page.goto(base);
  await page.getByRole('tab', { name: 'Authenticator app' }).tap();
  await expectVisible(page.locator('#enroll-form'));
  const user = 'phone-user-1';
  await page.getByLabel('User id').fill(user);
  await page.getByRole('button', { name: 'Enrol' }).tap();
  await expectVisible(page.locator('#enrolled'));

  const qr = page.locator('#totp-qr');
  await expectVisible(qr);
  await page.waitForFunction(() => document.getElementById('totp-qr').complete);
  const qrSize = await qr.evaluate((img) => ({ width: img.naturalWidth, alt: img.alt }));
  assert(qrSize.width > 0, 'the QR image did not load');
  assert(/QR code/.test(qrSize.alt), `the QR image's alt text is ${JSON.stringify(qrSize.alt)}`);
  assert((await page.locator('#totp-recovery li').count()) === 10, 'not ten recovery codes');
  await expectText(page.locator('#enrollment-status'), 'pending');

  // The authenticator app's side: the current code from the secret as shown.
  const secret = (await page.locator('#totp-secret').textContent()).replace(/\s/g, '');
  assert(/^[A-Z2-7]{32}$/.test(secret), `the shown secret is ${secret}`);
  await page.getByLabel('Code from the app').fill(totp(secret));
  await page.getByRole('button', { name: 'Verify' }).tap();
  await expectText(page.locator('#totp-result-status'), 'approved');
  await expectText(page.locator('#totp-result'), /activated\s*true/);
  await expectProof(page, 'totp', 'sub', user);
  await expectProof(page, 'totp', 'method', 'totp');
  await expectText(page.locator('#enrollment-status'), 'active');
  await expectText(page.locator('#totp-challenge'), `Challenge for ${user} from the demo backend`);

  // Enrolment, status and the challenge from the demo backend; the code to the public verify with
  // the challenge, never a user id.
  const paths = calls.map((c) => `${c.method} /${c.path}`);
  for (const expected of ['POST /_local/demo/totp/enroll', `GET /_local/demo/totp/enroll/${user}`,
    'POST /_local/demo/totp/challenge', 'POST /v1/otp/verify']) {
    assert(paths.includes(expected), `no ${expected} in ${paths.join(', ')}`);
  }
  const challenge = calls.find((c) => c.path === '_local/demo/totp/challenge');
  assert(JSON.stringify(challenge.body) === JSON.stringify({ user_id: user }), JSON.stringify(challenge.body));
  const verify = calls.find((c) => c.path === 'v1/otp/verify');
  assert(JSON.stringify(Object.keys(verify.body).sort()) === '["challenge_id","code"]', JSON.stringify(verify.body));

  // Readable on a phone: nothing wider than the screen, inputs at 16px or more (no zoom on focus).
  const layout = await page.evaluate(() => ({
    overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
    small: [...document.querySelectorAll('input:not([type=radio]):not([type=checkbox]), button')]
      .filter((e) => e.offsetParent !== null && parseFloat(getComputedStyle(e).fontSize) < 16)
      .map((e) => e.id || e.textContent),
  }));
  assert(layout.overflow <= 0, `the page is ${layout.overflow}px wider than a 390px screen`);
  assert(layout.small.length === 0, `controls under 16px: ${layout.small.join(', ')}`);
});

test('totp-challenge', DESKTOP, async (page) => {
  const calls = recordCalls(page);
  await page.goto(base);
  await page.getByRole('tab', { name: 'Authenticator app' }).click();
  const user = 'desktop-user-2';
  await page.getByLabel('User id').fill(user);
  await page.getByRole('button', { name: 'Enrol' }).click();
  await expectVisible(page.locator('#totp-verify-form'));
  const secret = await page.locator('#totp-secret').getAttribute('data-secret');

  // The first verify finds its challenge lapsed (as after five minutes): the page asks the demo
  // backend for a new one and sends the code again.
  let lapsed = false;
  await page.route('**/v1/otp/verify', (route) => {
    if (lapsed) return route.continue();
    lapsed = true;
    return route.fulfill({
      status: 410,
      contentType: 'application/problem+json',
      body: JSON.stringify({
        type: 'urn:problem-type:otp-lambda:challenge-expired', title: 'The challenge has expired', status: 410,
        detail: 'the challenge has expired; ask your backend for a new one',
      }),
    });
  });
  const code = totp(secret);
  await page.getByLabel('Code from the app').fill(wrong(code));
  await page.getByLabel('Code from the app').press('Enter');
  await expectText(page.locator('#totp-result-status'), 'incorrect');
  await expectText(page.locator('#totp-status'), 'Attempts remaining: 9');
  // The retry reuses the live challenge.
  await page.getByLabel('Code from the app').fill(code);
  await page.getByLabel('Code from the app').press('Enter');
  await expectText(page.locator('#totp-result-status'), 'approved');
  await expectProof(page, 'totp', 'sub', user);

  const challenges = calls.filter((c) => c.path === '_local/demo/totp/challenge');
  const verifies = calls.filter((c) => c.path === 'v1/otp/verify');
  assert(challenges.length === 2, `${challenges.length} challenges asked for, expected 2`);
  assert(verifies.length === 3, `${verifies.length} verifies, expected 3 (lapsed, wrong, right)`);
  assert(verifies[0].body.challenge_id !== verifies[1].body.challenge_id, 'the lapsed challenge was sent again');
  assert(verifies[1].body.challenge_id === verifies[2].body.challenge_id, 'a new challenge for each try');
  for (const call of verifies) assertFields(call, ['challenge_id', 'code']);
});

test('outbox-hidden-when-not-local', DESKTOP, async (page) => {
  // As on AWS: no outbox route. The panel goes away.
  await page.route('**/_local/outbox', (route) => route.fulfill({
    status: 404,
    contentType: 'application/problem+json',
    body: JSON.stringify({ type: 'urn:problem-type:otp-lambda:not-found', title: 'No such route', status: 404, detail: 'no such route' }),
  }));
  await page.goto(base);
  await page.waitForFunction(() => document.getElementById('outbox').hidden);
});

// ---- run ---------------------------------------------------------------------------------------------

const browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox'] });
console.log(`Chromium ${browser.version()} on ${base}`);
let failed = 0;
let ran = 0;
try {
  for (const { name, options, body } of tests) {
    if (only.length > 0 && !only.includes(name)) continue;
    ran += 1;
    const context = await browser.newContext(options);
    const page = await context.newPage();
    page.setDefaultTimeout(10_000);
    // No external resources, no script errors, no CSP refusals. (Chromium logs every non-2xx fetch
    // as "Failed to load resource"; those are the API's answers, checked by the tests.)
    const troubles = [];
    page.on('pageerror', (error) => troubles.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
        troubles.push(`console error: ${message.text()}`);
      }
    });
    page.on('request', (request) => {
      const url = request.url();
      if (!url.startsWith(base) && !url.startsWith('data:')) troubles.push(`external request: ${url}`);
      // The page is a browser: it never calls a server route nor holds a credential.
      if (url.includes('/v1/server/')) troubles.push(`server route from the page: ${url}`);
      if (request.headers().authorization) troubles.push(`credentials from the page: ${url}`);
    });
    const started = Date.now();
    try {
      await body(page);
      assert(troubles.length === 0, troubles.join('\n'));
      console.log(`ok   ${name} (${Date.now() - started} ms)`);
      if (process.env.OTP_BROWSER_SCREENSHOTS) {
        await page.screenshot({ path: path.join(screenshots, `browser-${name}.png`), fullPage: true });
      }
    } catch (error) {
      failed += 1;
      const shot = path.join(screenshots, `browser-failure-${name}.png`);
      try {
        mkdirSync(screenshots, { recursive: true });
        await page.screenshot({ path: shot, fullPage: true });
      } catch (screenshotError) {
        console.log(`     (no screenshot: ${screenshotError.message})`);
      }
      console.log(`FAIL ${name}: ${error.stack || error}`);
      if (troubles.length > 0) console.log(`     ${troubles.join('\n     ')}`);
      console.log(`     screenshot: ${shot}`);
    } finally {
      await context.close();
    }
  }
} finally {
  await browser.close();
}
console.log(`${ran - failed} passed, ${failed} failed: the demo page in Chromium`);
process.exit(failed > 0 || ran === 0 ? 1 : 0);
