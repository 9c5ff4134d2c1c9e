// The otp-lambda demo page: plain JavaScript, no build step, no external resources. Every request is
// same-origin, to paths relative to the page, so the page works wherever the API serves it.
'use strict';

const $ = (id) => document.getElementById(id);

// ---- HTTP -------------------------------------------------------------------------------------------

/** Calls the API. Answers {ok, status, data, problem, retryAfter}; `problem` is set for
 *  application/problem+json replies (their `detail` is what the user sees). */
async function api(method, path, body) {
  const init = { method, headers: { accept: 'application/json, application/problem+json' } };
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    return { ok: false, status: 0, data: null, problem: { detail: `The service could not be reached (${error.message}).` } };
  }
  const type = response.headers.get('content-type') || '';
  const text = await response.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  const problem = type.includes('problem+json') || (!response.ok && !data?.status)
    ? (data && typeof data === 'object' ? data : { detail: `HTTP ${response.status}` })
    : null;
  return { ok: response.ok, status: response.status, data, problem, retryAfter: response.headers.get('retry-after') };
}

/** A problem document as one sentence: its detail, and when to retry. */
function problemText(reply) {
  const problem = reply.problem || {};
  let text = problem.detail || problem.title || `The request failed (HTTP ${reply.status}).`;
  if (reply.retryAfter) text += ` Try again in ${reply.retryAfter} s.`;
  return text;
}

/** Marks the input a validation problem names (`field`), if the form has one. */
function markField(form, problem) {
  for (const input of form.querySelectorAll('[aria-invalid]')) input.removeAttribute('aria-invalid');
  const input = problem?.field && form.elements.namedItem(problem.field);
  if (input && input.focus) {
    input.setAttribute('aria-invalid', 'true');
    input.focus();
  }
}

// ---- small DOM helpers -----------------------------------------------------------------------------

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === 'class') node.className = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function say(status, text, kind = 'info') {
  status.textContent = text;
  status.dataset.kind = kind;
}

function busy(form, on) {
  for (const button of form.querySelectorAll('button')) button.disabled = on;
  form.setAttribute('aria-busy', String(on));
}

/** A definition list of the given [name, value] pairs. */
function fillList(list, pairs) {
  list.replaceChildren();
  for (const [name, value] of pairs) {
    if (value === undefined || value === null) continue;
    list.append(element('dt', {}, name), element('dd', {}, typeof value === 'string' ? value : JSON.stringify(value)));
  }
}

/** The outcome of a verify (approved, incorrect, expired, locked, consumed, not_found) in `box`. */
function showOutcome(box, reply) {
  const data = reply.data || {};
  box.replaceChildren();
  box.hidden = false;
  const approved = data.status === 'approved';
  box.dataset.outcome = data.status || 'problem';
  box.append(element('p', { class: 'outcome' },
    element('span', { class: approved ? 'badge good' : 'badge bad', id: `${box.id}-status` }, data.status || 'error'),
    ' ', data.detail || ''));
  const details = element('dl', { class: 'claims' });
  fillList(details, [
    ['HTTP status', String(reply.status)],
    ['user', data.user_id],
    ['method', data.method],
    ['channel', data.channel],
    ['to', data.to],
    ['purpose', data.purpose],
    ['reference', data.reference],
    ['attempts remaining', data.attempts_remaining === undefined ? undefined : String(data.attempts_remaining)],
    ['enrolment', data.enrollment],
    ['activated', data.activated === undefined ? undefined : String(data.activated)],
    ['recovery codes remaining', data.recovery_codes_remaining === undefined ? undefined : String(data.recovery_codes_remaining)],
    ['locked until', data.locked_until],
    ['retry after', reply.retryAfter ? `${reply.retryAfter} s` : undefined],
  ]);
  box.append(details);
}

// ---- proof tokens: decoded and checked in the page --------------------------------------------------

function base64urlBytes(text) {
  const base64 = text.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(text.length / 4) * 4, '=');
  const binary = atob(base64);
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

function base64urlJson(text) {
  return JSON.parse(new TextDecoder().decode(base64urlBytes(text)));
}

/** Checks a compact JWS against the published keys (by the header's kid) with WebCrypto Ed25519.
 *  Answers {valid, reason}; valid is null when this browser cannot check it. */
async function checkSignature(token) {
  const parts = token.split('.');
  if (parts.length !== 3) return { valid: false, reason: 'not a compact JWS (three dot-separated parts)' };
  const [headerPart, payloadPart, signaturePart] = parts;
  let header;
  try { header = base64urlJson(headerPart); } catch { return { valid: false, reason: 'the header is not base64url JSON' }; }
  if (header.alg !== 'EdDSA') return { valid: false, reason: `unexpected alg ${header.alg}` };
  const jwks = await api('GET', '.well-known/jwks.json');
  if (!jwks.ok || !Array.isArray(jwks.data?.keys)) return { valid: null, reason: 'the key set could not be fetched' };
  const jwk = jwks.data.keys.find((key) => key.kid === header.kid);
  if (!jwk) return { valid: false, reason: `no published key has kid ${header.kid}` };
  if (!window.crypto?.subtle) return { valid: null, reason: 'WebCrypto needs a secure context (https or localhost)' };
  try {
    const key = await crypto.subtle.importKey('jwk', { kty: 'OKP', crv: 'Ed25519', x: jwk.x },
      { name: 'Ed25519' }, false, ['verify']);
    const valid = await crypto.subtle.verify({ name: 'Ed25519' }, key, base64urlBytes(signaturePart),
      new TextEncoder().encode(`${headerPart}.${payloadPart}`));
    return { valid, reason: valid ? `Ed25519, key ${jwk.kid}` : `does not match key ${jwk.kid}` };
  } catch (error) {
    return { valid: null, reason: `this browser cannot check Ed25519 signatures (${error.name})` };
  }
}

const TIME_CLAIMS = new Set(['iat', 'exp', 'nbf']);

/** Shows a proof token in `box`: the claims decoded, and whether its signature holds; `outcome`
 *  is the sentence the status region repeats with the verdict. */
async function showProof(box, token, status, outcome) {
  box.replaceChildren();
  box.hidden = !token;
  if (!token) return;
  const [headerPart, payloadPart] = token.split('.');
  const header = base64urlJson(headerPart);
  const claims = base64urlJson(payloadPart);

  const verdict = element('p', { class: 'verdict', id: `${box.id}-signature` }, 'checking the signature…');
  const list = element('dl', { class: 'claims', id: `${box.id}-claims` });
  const pairs = Object.entries(claims).map(([name, value]) =>
    [name, TIME_CLAIMS.has(name) && typeof value === 'number'
      ? `${value} (${new Date(value * 1000).toISOString()})` : value]);
  fillList(list, pairs);
  for (const dt of list.querySelectorAll('dt')) dt.dataset.claim = dt.textContent;

  const tamper = element('button', { type: 'button', class: 'secondary' }, 'Check a tampered copy');
  const raw = element('details', {},
    element('summary', {}, 'The token as received'),
    element('pre', { class: 'token' }, token),
    element('p', { class: 'hint' }, `Header: ${JSON.stringify(header)}`));
  box.append(
    element('h3', {}, 'Proof token'),
    element('p', { class: 'hint' }, 'Your backend checks this JWT against /.well-known/jwks.json; this page does the same with WebCrypto.'),
    verdict, list, tamper, raw);

  const tamperVerdict = element('p', { class: 'verdict', id: `${box.id}-tampered`, hidden: '' });
  box.insertBefore(tamperVerdict, raw);

  async function check(candidate, target, label, announce) {
    const result = await checkSignature(candidate);
    const text = result.valid === true ? 'signature valid'
      : result.valid === false ? 'signature INVALID' : 'signature not checked';
    target.hidden = false;
    target.textContent = `${label}${text}: ${result.reason}.`;
    target.dataset.valid = String(result.valid);
    say(status, announce(text), result.valid ? 'good' : 'bad');
  }
  tamper.addEventListener('click', () => {
    // One claim changed, the signature kept: a backend must refuse this.
    const forged = { ...claims, exp: (claims.exp || 0) + 3600 };
    const json = new TextEncoder().encode(JSON.stringify(forged));
    const payload = btoa(String.fromCharCode(...json)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    const [h, , s] = token.split('.');
    check(`${h}.${payload}.${s}`, tamperVerdict, 'Tampered copy (exp one hour later): ',
      (text) => `Tampered copy of the proof: ${text}.`);
  });
  await check(token, verdict, '', (text) => `${outcome} Proof token: ${text}.`);
}

// ---- tabs (WAI-ARIA tabs: arrows, Home and End move between tabs) ----------------------------------

function setupTabs() {
  const tabs = [...document.querySelectorAll('[role="tab"]')];
  function select(tab, focus) {
    for (const other of tabs) {
      const selected = other === tab;
      other.setAttribute('aria-selected', String(selected));
      other.tabIndex = selected ? 0 : -1;
      $(other.getAttribute('aria-controls')).hidden = !selected;
    }
    if (focus) tab.focus();
    history.replaceState(null, '', `#${tab.id}`);
  }
  tabs.forEach((tab, index) => {
    tab.addEventListener('click', () => select(tab, false));
    tab.addEventListener('keydown', (event) => {
      const moves = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: tabs.length - 1 };
      if (!(event.key in moves)) return;
      event.preventDefault();
      select(tabs[(moves[event.key] + tabs.length) % tabs.length], true);
    });
  });
  const initial = tabs.find((tab) => `#${tab.id}` === location.hash);
  if (initial) select(initial, false);
}

// ---- outbox (otp-local only) ------------------------------------------------------------------------

async function refreshOutbox() {
  const panel = $('outbox');
  const reply = await api('GET', '_local/outbox');
  if (reply.status === 404) {
    panel.hidden = true; // not otp-local: the Lambdas have no outbox
    return;
  }
  panel.hidden = false;
  const list = $('outbox-list');
  list.replaceChildren();
  if (!reply.ok || !Array.isArray(reply.data)) {
    $('outbox-empty').textContent = problemText(reply);
    $('outbox-empty').hidden = false;
    return;
  }
  $('outbox-empty').textContent = 'Nothing sent yet.';
  $('outbox-empty').hidden = reply.data.length > 0;
  for (const message of [...reply.data].reverse()) {
    const meta = element('p', { class: 'meta' },
      element('span', { class: 'badge' }, message.channel), ' to ',
      element('strong', { class: 'to' }, message.to), ' · ',
      element('time', { datetime: message.sent_at }, new Date(message.sent_at).toLocaleTimeString()));
    const item = element('li', { class: 'message' }, meta);
    if (message.feedback) meta.append(' · ', element('span', { class: 'badge' }, `code entered: ${message.feedback}`));
    if (message.subject) item.append(element('p', { class: 'subject' }, `Subject: ${message.subject}`));
    if (message.channel === 'voice' && message.body !== undefined) {
      // A call: what it says, as a person hears it; the SSML End User Messaging is given below it.
      item.append(element('p', { class: 'hint' }, 'The call says:'));
      item.append(element('pre', { class: 'body spoken' }, message.body));
      if (message.ssml) {
        item.append(element('details', {}, element('summary', {}, 'SSML'), element('pre', { class: 'ssml' }, message.ssml)));
      }
    } else if (message.body !== undefined) item.append(element('pre', { class: 'body' }, message.body));
    else item.append(element('p', { class: 'hint' }, `Handed to AWS, message id ${message.message_id ?? 'none'} (the text is not kept).`));
    list.append(item);
  }
}

// ---- tab 1: a code by SMS or email ------------------------------------------------------------------

let challenge = null; // the last send's reply
let sentTo = null; // the number or address the last send was typed with (the reply shows it masked)

function setupSent() {
  const form = $('send-form');
  const status = $('otp-status');
  const to = $('send-to');

  function channelChanged() {
    const email = form.elements.channel.value === 'email';
    // SMS and calls both go to a phone number.
    $('send-to-label').textContent = email ? 'Email address' : 'Phone number';
    $('send-to-hint').textContent = email ? 'e.g. ada@example.com.' : 'In international form, e.g. +447911123456.';
    to.type = email ? 'email' : 'tel';
    to.autocomplete = email ? 'email' : 'tel';
    const looksLikeEmail = to.value.includes('@');
    if (email !== looksLikeEmail) to.value = email ? 'ada@example.com' : '+447911123456';
  }
  for (const radio of form.elements.channel) radio.addEventListener('change', channelChanged);

  /** Sends `body`; shows where the code went and readies the verify form. */
  async function sendCode(body) {
    busy(form, true);
    say(status, body.channel === 'voice' ? 'Calling…' : 'Sending…');
    const reply = await api('POST', 'v1/otp/send', body);
    busy(form, false);
    refreshOutbox();
    if (!reply.ok) {
      say(status, problemText(reply), 'bad');
      markField(form, reply.problem);
      return;
    }
    markField(form, null);
    challenge = reply.data;
    sentTo = body.to;
    // "Call me instead" is a resend by call to the same number: offered after an SMS.
    $('call-instead-row').hidden = challenge.channel !== 'sms';
    $('sent-summary').textContent = `Code sent by ${challenge.channel} to ${challenge.to} (purpose ${challenge.purpose}). `
      + `It expires at ${new Date(challenge.expires_at).toLocaleTimeString()}; a new one can be sent from `
      + `${new Date(challenge.resend_at).toLocaleTimeString()}. Attempts allowed: ${challenge.attempts_remaining}.`;
    $('sent').hidden = false;
    $('otp-result').hidden = true;
    $('otp-proof').hidden = true;
    $('verify-form').hidden = false;
    const code = $('otp-code');
    code.value = '';
    code.removeAttribute('aria-invalid');
    const how = challenge.channel === 'voice' ? `Calling ${challenge.to}: listen for the code` : `Code sent to ${challenge.to}`;
    say(status, `${how}. Type it in below.`, 'good');
    code.focus();
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const body = { channel: form.elements.channel.value, to: to.value.trim() };
    const purpose = $('send-purpose').value.trim();
    if (purpose) body.purpose = purpose;
    await sendCode(body);
  });

  $('call-instead').addEventListener('click', async () => {
    if (!challenge || !sentTo) return;
    await sendCode({ channel: 'voice', to: sentTo, purpose: challenge.purpose });
  });

  $('verify-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const verifyForm = event.currentTarget;
    if (!challenge) return;
    busy(verifyForm, true);
    say(status, 'Checking…');
    const reply = await api('POST', 'v1/otp/verify', { id: challenge.id, code: $('otp-code').value });
    busy(verifyForm, false);
    await finishVerify(reply, verifyForm, $('otp-code'), status, $('otp-result'), $('otp-proof'));
  });
}

/** Shows a verify reply (both tabs): a problem by its detail, else the outcome and its proof. */
async function finishVerify(reply, form, input, status, resultBox, proofBox) {
  if (reply.problem) {
    resultBox.hidden = true;
    proofBox.hidden = true;
    say(status, problemText(reply), 'bad');
    markField(form, reply.problem);
    return false;
  }
  showOutcome(resultBox, reply);
  const data = reply.data || {};
  if (data.status !== 'approved') {
    proofBox.hidden = true;
    input.setAttribute('aria-invalid', 'true');
    const tries = data.attempts_remaining === undefined ? '' : ` Attempts remaining: ${data.attempts_remaining}.`;
    say(status, `${data.status}: ${data.detail}${tries}`, 'bad');
    input.select();
    input.focus();
    return false;
  }
  input.removeAttribute('aria-invalid');
  const outcome = `approved: ${data.detail}`;
  say(status, `${outcome} Checking the proof token…`, 'good');
  await showProof(proofBox, data.token, status, outcome);
  return true;
}

// ---- tab 2: an authenticator app --------------------------------------------------------------------
//
// As an app does it: the page never names the user to the public API. Its backend (here otp-local's
// demo backend, `/_local/demo/…`, which holds the server key the page never sees) enrols the user and,
// once the user has passed the first factor, asks for a challenge for them; the page sends that
// challenge with the app's code to the public verify.

let enrolledUser = null;
let totpChallenge = null; // {challenge_id, user_id, expires_at} from the demo backend

/** A live challenge for `user` from the demo backend: the one held, or a new one. Answers
 *  {challenge} or {reply} (the refusal, to show). */
async function challengeFor(user, fresh = false) {
  const margin = 5_000; // not one that lapses on the way
  if (!fresh && totpChallenge && totpChallenge.user_id === user
      && Date.parse(totpChallenge.expires_at) - Date.now() > margin) {
    return { challenge: totpChallenge };
  }
  totpChallenge = null;
  const reply = await api('POST', '_local/demo/totp/challenge', { user_id: user });
  if (!reply.ok || !reply.data?.challenge_id) return { reply };
  totpChallenge = reply.data;
  $('totp-challenge').textContent = `Challenge for ${totpChallenge.user_id} from the demo backend, `
    + `valid until ${new Date(totpChallenge.expires_at).toLocaleTimeString()}.`;
  return { challenge: totpChallenge };
}

/** The public verify of the app's code under a challenge; a lapsed challenge is replaced once. */
async function verifyTotp(user, code) {
  for (let attempt = 0; ; attempt += 1) {
    const { challenge, reply: refused } = await challengeFor(user, attempt > 0);
    if (!challenge) return refused;
    const reply = await api('POST', 'v1/otp/verify', { challenge_id: challenge.challenge_id, code });
    if (reply.status !== 410 || !reply.problem || attempt > 0) return reply;
    // `challenge-expired`: ask the backend for a new one, as an app would.
  }
}

function setupTotp() {
  const form = $('enroll-form');
  const status = $('totp-status');

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const body = {
      user_id: $('enroll-user').value.trim(),
      issuer: $('enroll-issuer').value.trim(),
      account: $('enroll-account').value.trim(),
    };
    if ($('enroll-replace').checked) body.replace = true;
    busy(form, true);
    say(status, 'Enrolling…');
    const reply = await api('POST', '_local/demo/totp/enroll', body);
    busy(form, false);
    if (!reply.ok) {
      say(status, problemText(reply), 'bad');
      markField(form, reply.problem);
      return;
    }
    markField(form, null);
    const data = reply.data;
    enrolledUser = data.user_id;
    totpChallenge = null;
    $('totp-challenge').textContent = '';
    const qr = $('totp-qr');
    qr.src = data.qr_png;
    qr.alt = `QR code for ${body.issuer}: ${body.account}. Scan it with an authenticator app, or type in the secret below.`;
    $('totp-secret').textContent = data.secret.replace(/(.{4})(?=.)/g, '$1 ');
    $('totp-secret').dataset.secret = data.secret;
    $('totp-uri').href = data.otpauth_uri;
    $('totp-params').textContent = `${data.digits} digits, ${data.algorithm}, a new code every ${data.period} s. `
      + `Confirm with a code before ${new Date(data.expires_at).toLocaleTimeString()} or the enrolment lapses.`;
    $('totp-recovery').replaceChildren(...data.recovery_codes.map((code) => element('li', {}, element('code', {}, code))));
    $('enrolled').hidden = false;
    $('totp-result').hidden = true;
    $('totp-proof').hidden = true;
    $('totp-verify-form').hidden = false;
    $('totp-code').value = '';
    $('totp-code').removeAttribute('aria-invalid');
    $('totp-code').maxLength = data.digits;
    say(status, `Enrolled ${data.user_id}: ${data.status}. Scan the QR code, then type the app's code.`, 'good');
    await refreshEnrollment();
    $('totp-code').focus();
  });

  $('totp-verify-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const verifyForm = event.currentTarget;
    if (!enrolledUser) return;
    busy(verifyForm, true);
    say(status, 'Checking…');
    const reply = await verifyTotp(enrolledUser, $('totp-code').value);
    busy(verifyForm, false);
    await finishVerify(reply, verifyForm, $('totp-code'), status, $('totp-result'), $('totp-proof'));
    await refreshEnrollment();
  });

  $('enrollment-refresh').addEventListener('click', refreshEnrollment);
}

async function refreshEnrollment() {
  if (!enrolledUser) return;
  const box = $('enrollment');
  const reply = await api('GET', `_local/demo/totp/enroll/${encodeURIComponent(enrolledUser)}`);
  box.hidden = false;
  if (!reply.ok) {
    $('enrollment-status').textContent = reply.status === 404 ? 'not enrolled' : problemText(reply);
    $('enrollment-details').replaceChildren();
    return;
  }
  const data = reply.data;
  $('enrollment-status').textContent = data.status;
  fillList($('enrollment-details'), [
    ['user id', data.user_id],
    ['created', data.created_at],
    ['last used', data.last_used_at ?? 'never'],
    ['recovery codes remaining', String(data.recovery_codes_remaining)],
    ['confirm before', data.expires_at],
    ['locked until', data.locked_until],
  ]);
}

// ---- start ------------------------------------------------------------------------------------------

setupTabs();
setupSent();
setupTotp();
$('outbox-refresh').addEventListener('click', refreshOutbox);
refreshOutbox();
document.documentElement.dataset.ready = 'true';
