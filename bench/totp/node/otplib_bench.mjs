// TOTP verify (±1 step) with otplib, timed by tinybench.
//
// The same five cases as shared/benches/totp.rs and ../pyotp_bench.py. otplib 13's class API with
// its defaults (the `OTP` class: TOTP strategy, @otplib/plugin-crypto-noble for the HMAC,
// @otplib/plugin-base32-scure for the secret), configured as the others are: SHA1, 6 digits, 30 s,
// and ±1 step as `epochTolerance: 30` (seconds either side of `epoch`, which is in seconds in v13).
// The headline figure is `verifySync`, which the default noble plugin supports; the async `verify`
// (what the README's quick start awaits) is timed once more on the current step for reference.
//
// Each tinybench sample is the mean per call over a batch of BATCH calls (tinybench's documented
// `overriddenDuration` + `overriddenIterationCost` pattern), so min–max describe batch means as
// criterion's samples and timeit's repeats do. Prints one JSON object on stdout.

import { readFileSync } from "node:fs";
import { OTP } from "otplib";
import { Bench } from "tinybench";

const SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"; // RFC 6238's SHA1 seed "12345678901234567890"
const T = 1_700_000_000; // 20 s into step 56_666_666
const STEP = Math.floor(T / 30);
// From oathtool 2.6.7 (see shared/benches/totp.rs), independent of otplib.
const [PREVIOUS, CURRENT, NEXT, WRONG] = ["276857", "921300", "732303", "000000"];
const BATCH = 20;
const TIME_MS = Number(process.argv[2] ?? 2000);

const CONFIG = { secret: SECRET, algorithm: "sha1", digits: 6, period: 30 };
const WINDOW = { epoch: T, epochTolerance: 30 };

const otp = new OTP();

// The codes otplib itself makes for the three steps must be oathtool's: same configuration.
for (const [t, want] of [
  [T - 30, PREVIOUS],
  [T, CURRENT],
  [T + 30, NEXT],
]) {
  const got = otp.generateSync({ ...CONFIG, epoch: t });
  if (got !== want) throw new Error(`otplib makes ${got} at ${t}, oathtool ${want}`);
}

const CASES = [
  ["current_step", CURRENT, STEP],
  ["previous_step", PREVIOUS, STEP - 1],
  ["next_step", NEXT, STEP + 1],
  ["wrong_code", WRONG, null],
];

function check(name, result, step) {
  const ok = step === null ? result.valid === false : result.valid === true && result.timeStep === step;
  if (!ok) throw new Error(`${name}: ${JSON.stringify(result)}, want step ${step}`);
}

/** A tinybench task body timing BATCH calls of `call` and reporting the mean per call. */
function batched(call) {
  return () => {
    const start = process.hrtime.bigint();
    for (let i = 0; i < BATCH; i++) call();
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    return { overriddenDuration: ms / BATCH, overriddenIterationCost: ms };
  };
}

function batchedAsync(call) {
  return async () => {
    const start = process.hrtime.bigint();
    for (let i = 0; i < BATCH; i++) await call();
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    return { overriddenDuration: ms / BATCH, overriddenIterationCost: ms };
  };
}

const bench = new Bench({ time: TIME_MS, warmupTime: 500, throws: true });
let sink;
for (const [name, token, step] of CASES) {
  const options = { ...CONFIG, ...WINDOW, token }; // built once, like the pyotp and Rust objects
  check(name, otp.verifySync(options), step);
  bench.add(name, batched(() => (sink = otp.verifySync(options))));
}
{
  const options = { ...CONFIG, ...WINDOW, token: CURRENT };
  check("build_and_verify", new OTP().verifySync(options), STEP);
  bench.add("build_and_verify", batched(() => (sink = new OTP().verifySync(options))));
  check("async_current_step", await otp.verify(options), STEP);
  bench.add("async_current_step", batchedAsync(async () => (sink = await otp.verify(options))));
}

await bench.run();
if (sink === undefined) throw new Error("nothing ran");

const cases = {};
for (const task of bench.tasks) {
  const r = task.result;
  if (r.state !== "completed") throw new Error(`${task.name}: ${r.state}`);
  cases[task.name] = {
    median_ns: r.latency.p50 * 1e6,
    min_ns: r.latency.min * 1e6,
    max_ns: r.latency.max * 1e6,
    samples: r.latency.samplesCount,
    batch: BATCH,
  };
  console.error(`otplib ${task.name}: ${Math.round(r.latency.p50 * 1e6)} ns`);
}

const version = (name) =>
  JSON.parse(readFileSync(new URL(`./node_modules/${name}/package.json`, import.meta.url))).version;
console.log(
  JSON.stringify({
    harness: `tinybench ${version("tinybench")} (${TIME_MS} ms per case, samples of ${BATCH}-call batches)`,
    node: process.versions.node,
    otplib: version("otplib"),
    crypto: `@otplib/plugin-crypto-noble ${version("@otplib/plugin-crypto-noble")} (@noble/hashes ${version("@noble/hashes")})`,
    cases,
  }),
);
