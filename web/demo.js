// The demo page: draws the Mandelbrot kernel, computes a set of results with the wasm kernels
// (the browser test compares them with the Python host) and times a few kernels against
// plain-JS versions. Progress and results are published on `window.wasmcoreDemo`.

import init, { wasmcore as core } from "./pkg/wasmcore.js";
import * as plain from "./plain.js";

const demo = (window.wasmcoreDemo = { state: "loading", checks: null, timings: [], error: null });
const $ = (id) => document.getElementById(id);

// The inputs: tests/web/test_page.py builds the same ones in Python.
const MANDELBROT = { width: 720, height: 480, x0: -2.35, y0: -1.1, x1: 0.95, y1: 1.1, maxIter: 256 };

/** A 32-bit LCG (Numerical Recipes constants) seeded with `seed`: each call, the next in [0, 1). */
function lcg(seed) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

/** n doubles in [-100, 100) from the LCG seeded with `seed`. */
function seeded(n, seed) {
  const next = lcg(seed);
  return Float64Array.from({ length: n }, () => next() * 200 - 100);
}

/** A copy of x with the cases sort must get right: NaNs, -0 and 0, a repeated value. */
function withSpecials(x) {
  const y = Float64Array.from(x);
  y[7] = NaN;
  y[500] = NaN;
  y[100] = -0;
  y[200] = 0;
  y[301] = y[300];
  return y;
}

const utf8 = (s) => new TextEncoder().encode(s);
const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const bytesOf = (a) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** A JSON-safe form: BigInt as a decimal string, typed arrays as dtype + little-endian hex. */
function encode(v) {
  if (typeof v === "bigint") return v.toString();
  if (Array.isArray(v)) return v.map(encode);
  if (v instanceof Float64Array) return { dtype: "f64", hex: hex(bytesOf(v)) };
  if (v instanceof Uint32Array) return { dtype: "u32", hex: hex(bytesOf(v)) };
  if (v instanceof Uint8Array) return { dtype: "u8", hex: hex(v) };
  if (typeof v === "number" && !Number.isFinite(v)) return { float: String(v) };
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, encode(x)]));
  return v;
}

/** What calling f throws: its class and message (null when it does not throw). */
function thrown(f) {
  try {
    f();
    return null;
  } catch (e) {
    return { error: e.constructor.name, message: e.message };
  }
}

function mandelbrot() {
  const m = MANDELBROT;
  return core.mandelbrot(m.width, m.height, m.x0, m.y0, m.x1, m.y1, m.maxIter);
}

function draw(counts) {
  const { width, height, maxIter } = MANDELBROT;
  const ctx = $("mandelbrot").getContext("2d");
  const img = ctx.createImageData(width, height);
  for (let i = 0; i < counts.length; i++) {
    const t = counts[i] >= maxIter ? 0 : Math.sqrt(counts[i] / maxIter);
    const u = 1 - t;
    img.data.set([9 * u * t ** 3 * 255, 15 * u * u * t * t * 255, 8.5 * u ** 3 * t * 255, 255], 4 * i);
  }
  ctx.putImageData(img, 0, 0);
}

// Elements an integer array must refuse (docs/arguments.md): out of the u32 range, or not integers.
const BAD_ELEMENTS = [-1, -7, -(2 ** 40), 2 ** 32, 2 ** 32 + 5, 2 ** 53, 1e20, 1.5, -0.5, 0.1, 4294967295.5,
  NaN, Infinity, -Infinity];

/**
 * `partitions` with n `cards` arguments that each hold 1 to 3 bad elements at positions the LCG
 * picks, as a plain Array or a Float64Array: the input (as a Float64Array, which holds every one
 * exactly), the container and what the call threw.
 */
function badIntegerArrays(n) {
  const next = lcg(15);
  const int = (m) => Math.floor(next() * m);
  return Array.from({ length: n }, (_, c) => {
    const values = Array.from({ length: 10 }, () => int(4));
    for (let k = int(3); k >= 0; k--) values[int(10)] = BAD_ELEMENTS[int(BAD_ELEMENTS.length)];
    const container = c % 2 ? "Float64Array" : "Array";
    const cards = c % 2 ? Float64Array.from(values) : values;
    return { input: Float64Array.from(values), container, thrown: thrown(() => core.partitions(cards, 3)) };
  });
}

// Arguments every integer scalar parameter must refuse: integers out of range (Numbers and
// BigInts), Numbers that are not integers, and values that are not numbers at all.
const BAD_SCALARS = [-1, -7, -(2 ** 40), 2 ** 32, 2 ** 32 + 5, 2 ** 53, 1e20, 1e21, 2 ** 64, 1.5, -0.5, 0.1,
  4294967295.5, NaN, Infinity, -Infinity, -1n, 2n ** 32n, 2n ** 64n, -(2n ** 70n), "3", "", null, [3], {}];
// Refused in JS but not by the Python host (which takes True as 1 and has no undefined).
const BAD_SCALARS_JS_ONLY = [true, false];

const CARDS = new Uint32Array([4, 4, 4, 4, 4, 4, 4, 4, 4, 16]);
const SMALL = seeded(12, 5);

/** `RunningStats.<method>(ddof)` (`var` or `std`) of SMALL, or no `ddof` when called with no
 * argument. */
const runningStat = (method) => (...ddof) => {
  const rs = new core.RunningStats();
  try {
    rs.push(SMALL);
    return rs[method](...ddof);
  } finally {
    rs.free();
  }
};

/**
 * Every integer scalar parameter of the JS API: the function (named as in its messages), the
 * parameter, a call with the argument in its place (the other arguments valid), and valid
 * arguments (`undefined`: an optional parameter left out; in JS `3.0` is the Number 3).
 * tests/web/test_page.py makes the same calls on the Python host.
 */
const INTEGER_PARAMS = [
  ["fib", "n", (v) => core.fib(v), [20, 20n, 3.0, 0, -0, 0n]],
  ["partitions", "subtotal", (v) => core.partitions(CARDS, v), [4, 4n, 21.0, 0, -0]],
  ["count_primes", "n", (v) => core.count_primes(v), [1000, 1000n, 2.0, 0]],
  ["mandelbrot", "width", (v) => core.mandelbrot(v, 3, -2, -1, 1, 1, 16), [4, 4n, 5.0]],
  ["mandelbrot", "height", (v) => core.mandelbrot(4, v, -2, -1, 1, 1, 16), [3, 3n, 2.0]],
  ["mandelbrot", "max_iter", (v) => core.mandelbrot(4, 3, -2, -1, 1, 1, v), [16, 16n, 0, 3.0]],
  ["var", "ddof", (...v) => core.variance(SMALL, ...v), [undefined, 0, 1, 1n, 2.0, -0]],
  ["std", "ddof", (...v) => core.std(SMALL, ...v), [undefined, 0, 1, 1n, 2.0, -0]],
  ["histogram", "bins", (v) => core.histogram(SMALL, v, -100, 100), [5, 5n, 1, 20.0]],
  ["matmul", "m", (v) => core.matmul(seeded(6, 1), v, 3, seeded(6, 2), 2), [2, 2n, 2.0]],
  ["matmul", "k", (v) => core.matmul(seeded(6, 1), 2, v, seeded(6, 2), 2), [3, 3n, 3.0]],
  ["matmul", "n", (v) => core.matmul(seeded(6, 1), 2, 3, seeded(6, 2), v), [2, 2n, 2.0]],
  ["crc32", "value", (...v) => core.crc32(utf8("abc"), ...v),
    [undefined, 0, 12345, 4294967295, 4294967295n, 0n, -0]],
  ["RunningStats.var", "ddof", runningStat("var"), [undefined, 0, 1n, 3.0]],
  ["RunningStats.std", "ddof", runningStat("std"), [undefined, 0, 1n, 3.0]],
];

/** A value's JS type (`null` and arrays apart) and `String(value)`, for the test. */
function describe(v) {
  const type = v === null ? "null" : Array.isArray(v) ? "array" : typeof v;
  return { type, text: String(v) };
}

/**
 * Each integer scalar parameter called with every bad argument (what it threw), with `undefined`
 * when it is required, and with its valid arguments (what it returned). An `undefined` valid
 * argument is passed by leaving the argument out.
 */
function integerScalars() {
  const bad = [], valid = [];
  for (const [func, param, call, good] of INTEGER_PARAMS) {
    const refused = [...BAD_SCALARS, ...BAD_SCALARS_JS_ONLY, ...(good.includes(undefined) ? [] : [undefined])];
    for (const v of refused) {
      bad.push({ func, param, value: describe(v), thrown: thrown(() => call(v)) });
    }
    for (const v of good) {
      valid.push({ func, param, value: describe(v), result: v === undefined ? call() : call(v) });
    }
  }
  return { bad, valid };
}

function checks(image) {
  const x = seeded(1000, 42);
  const special = withSpecials(x);
  const y = seeded(1000, 7);
  core.axpy(2.5, x, y); // in place

  const h = new core.Sha256();
  h.update(utf8("ab"));
  const fork = h.copy();
  h.update(utf8("c"));
  fork.update(utf8("x"));
  const stream = { abc: h.hexdigest(), abx: hex(fork.digest()) };
  h.free();
  fork.free();

  const rs = new core.RunningStats();
  rs.push(x.subarray(0, 300));
  rs.push(x.subarray(300));
  const running = { count: rs.count, mean: rs.mean, var1: rs.var(1), min: rs.min, max: rs.max };
  rs.free();

  return {
    "fib(20)": core.fib(20),
    "fib(25)": core.fib(25),
    partitions: core.partitions(CARDS, 4),
    "partitions, other arrays": {
      array: core.partitions([4, 4, 4, 4, 4, 4, 4, 4, 4, 16], 4),
      float64: core.partitions(new Float64Array([4, 4, 4, 4, 4, 4, 4, 4, 4, 16]), 4),
      int8: core.partitions(new Int8Array([4, 4, 4, 4, 4, 4, 4, 4, 4, 16]), 4),
      bigint: core.partitions([4n, 4n, 4n, 4n, 4n, 4n, 4n, 4n, 4n, 16n], 4),
    },
    "count_primes(1000000)": core.count_primes(1_000_000),
    "sha256('abc')": core.sha256(utf8("abc")),
    "Sha256 stream": stream,
    "crc32('abc')": core.crc32(utf8("abc")),
    "crc32('def', crc32('abc'))": core.crc32(utf8("def"), core.crc32(utf8("abc"))),
    "fnv1a64('abc')": core.fnv1a64(utf8("abc")),
    base64_encode: core.base64_encode(utf8("wasmcore in the browser")),
    base64_decode: core.base64_decode(utf8("aGVsbG8sIHdvcmxk")),
    sum: core.sum(x),
    mean: core.mean(x),
    "var(ddof=1)": core.variance(x, 1),
    std: core.std(x),
    min: core.min(x),
    max: core.max(x),
    argmin: core.argmin(x),
    argmax: core.argmax(x),
    median: core.median(x),
    "quantile(0.9)": core.quantile(x, 0.9),
    norm: core.norm(x),
    dot: core.dot(x, seeded(1000, 7)),
    cumsum: core.cumsum(x),
    axpy: y,
    sort: core.sort(special),
    argsort: core.argsort(special),
    histogram: core.histogram(x, 20, -100, 100),
    matmul: core.matmul(seeded(12, 1), 3, 4, seeded(8, 2), 2),
    convolve: core.convolve(seeded(50, 3), seeded(7, 4)),
    gamma: core.gamma(new Float64Array([0.5, 1, 4.5, -1.5, 10, 171.5, 0, -0, -2])),
    lgamma: core.lgamma(new Float64Array([0.5, 1, 4.5, -1.5, 10, 1e10, 0, -2])),
    erf: core.erf(new Float64Array([-3, -0.5, 0, 1e-10, 0.5, 1, 2.5, 6])),
    RunningStats: running,
    "mandelbrot crc32": core.crc32(bytesOf(image)),
    "mandelbrot sum": image.reduce((a, b) => a + b, 0),
    "error fib(94)": thrown(() => core.fib(94)),
    "error base64_decode('abc')": thrown(() => core.base64_decode(utf8("abc"))),
    "error mean([])": thrown(() => core.mean(new Float64Array(0))),
    "error matmul shape": thrown(() => core.matmul(new Float64Array(5), 2, 3, new Float64Array(6), 2)),
    "error partitions('abcdefghij')": thrown(() => core.partitions("abcdefghij", 4)),
    "error partitions string element": thrown(() => core.partitions([1, 1, 1, 1, 1, 1, 1, 1, 1, "2"], 4)),
    "error partitions -1n": thrown(() => core.partitions([1n, 1n, 1n, 1n, 1n, 1n, 1n, 1n, 1n, -1n], 4)),
    "integer arrays": badIntegerArrays(40),
    "integer scalars": integerScalars(),
  };
}

/** A short human-readable form of a result for the table. */
function preview(v) {
  if (typeof v === "bigint") return `${v}n`;
  if (v instanceof Uint8Array) return `Uint8Array(${v.length}) ${hex(v)}`;
  if (ArrayBuffer.isView(v)) {
    const head = Array.from(v.slice(0, 4), (e) => (Number.isInteger(e) ? e : e.toPrecision(6)));
    return `${v.constructor.name}(${v.length}) [${head.join(", ")}${v.length > 4 ? ", …" : ""}]`;
  }
  if (v && typeof v === "object") return Object.entries(v).map(([k, x]) => `${k}: ${preview(x)}`).join(", ");
  return String(v);
}

function showChecks(values) {
  const body = $("checks").tBodies[0];
  for (const [name, v] of Object.entries(values)) {
    const row = body.insertRow();
    row.insertCell().textContent = name;
    const cell = row.insertCell();
    cell.className = "value";
    cell.textContent = preview(v);
  }
}

const pause = () => new Promise((resolve) => setTimeout(resolve, 0));

/** Best of `runs` wall-clock times (ms) of f, and its last result. */
async function time(f, runs = 3) {
  let best = Infinity, result;
  for (let i = 0; i < runs; i++) {
    await pause(); // let the page paint between runs
    const t0 = performance.now();
    result = f();
    best = Math.min(best, performance.now() - t0);
  }
  return { ms: best, result };
}

const sameArray = (a, b) => a.length === b.length && a.every((v, i) => Object.is(v, b[i]) || v === b[i]);
const close = (a, b) => Math.abs(a - b) <= 1e-9 * Math.abs(b);

async function timings() {
  const big = seeded(1_000_000, 1);
  const data = bytesOf(seeded(1_000_000, 2)); // 8 MB
  const m = MANDELBROT;
  const benches = [
    ["fib(30)", () => core.fib(30), () => plain.fib(30), (a, b) => Number(a) === b],
    ["sum of 10⁶ f64", () => core.sum(big), () => plain.sum(big), close],
    ["sort of 10⁶ f64", () => core.sort(big), () => plain.sort(big), sameArray],
    [`mandelbrot ${m.width}×${m.height}, ${m.maxIter} iter`, mandelbrot,
      () => plain.mandelbrot(m.width, m.height, m.x0, m.y0, m.x1, m.y1, m.maxIter), sameArray],
    ["count_primes(10⁷)", () => core.count_primes(10_000_000), () => plain.countPrimes(10_000_000), (a, b) => a === b],
    ["crc32 of 8 MB", () => core.crc32(data), () => plain.crc32(data), (a, b) => a === b],
  ];
  const body = $("timings").tBodies[0];
  for (const [name, wasmFn, jsFn, same] of benches) {
    const w = await time(wasmFn);
    const j = await time(jsFn);
    const agree = same(w.result, j.result);
    demo.timings.push({ name, wasm_ms: w.ms, js_ms: j.ms, agree });
    const ratio = w.ms > 0 ? (j.ms / w.ms).toFixed(2) + "×" : "–";
    body.insertRow().innerHTML =
      `<td>${name}</td><td>${w.ms.toFixed(1)} ms</td><td>${j.ms.toFixed(1)} ms</td><td>${ratio}</td>` +
      `<td class="${agree ? "ok" : "bad"}">${agree ? "✓" : "✗"}</td>`;
  }
}

async function main() {
  await init();
  demo.state = "running";
  $("status").textContent = "running…";

  const t0 = performance.now();
  const image = mandelbrot();
  const ms = performance.now() - t0;
  draw(image);
  const m = MANDELBROT;
  $("mandelbrot-caption").textContent =
    `${m.width}×${m.height} pixels of [${m.x0}, ${m.x1}] × [${m.y0}, ${m.y1}], at most ${m.maxIter} ` +
    `iterations: ${ms.toFixed(1)} ms in wasm.`;

  const values = checks(image);
  demo.checks = encode(values);
  showChecks(values);

  await timings();
  demo.state = "done";
  $("status").textContent = "done";
  $("status").className = "ok";
}

main().catch((e) => {
  demo.state = "failed";
  demo.error = String(e && e.stack ? e.stack : e);
  $("status").textContent = `failed: ${e}`;
  $("status").className = "bad";
  throw e;
});
