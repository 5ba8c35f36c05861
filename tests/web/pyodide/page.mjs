// The Pyodide page of the Chromium test (tests/web/test_pyodide_page.py, just test-web): Python in
// the page's main thread, offline, everything served by the test from this machine:
//   /pyodide/  the pinned `pyodide` npm package (tests/pyodide/node_modules/pyodide)
//   /cache/    micropip's wheel (target/pyodide/cache; its file name: ?micropip=...)
//   /data/     work/: what tests/pyodide/run.py prepares for check.py (wheels/ with ORDER, and
//              work.zip: the rest of it, unpacked to /work)
//   /          this page and main_thread.py
// It installs the runtime's wheel and the similarity example's over HTTP with micropip, runs
// main_thread.py (what only a browser's main thread does) and then tests/pyodide/check.py (every
// kernel, class and plugin against the CPython host), and reports in window.wasmcoreDemo: state
// "done" or "failed" (error: the JavaScript error or the Python traceback), the seconds at
// which each step ended, and the JSON line each script printed.
import { loadPyodide } from "/pyodide/pyodide.mjs";

const demo = (window.wasmcoreDemo = { state: "running", error: null, seconds: {}, results: {} });
const status = document.getElementById("status");
const log = document.getElementById("log");
const started = performance.now();
let printed = [];

function step(name) {
  demo.seconds[name] = (performance.now() - started) / 1000;
  status.textContent = `${name} (${demo.seconds[name].toFixed(1)} s)`;
}

async function get(path) {
  const response = await fetch(path);
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response;
}

async function runScript(pyodide, name, code) {
  printed = [];
  await pyodide.runPythonAsync(code, { filename: name });
  const json = printed.filter((line) => line.startsWith("{")).at(-1);
  if (json === undefined) throw new Error(`${name} printed no result`);
  demo.results[name] = JSON.parse(json);
  step(name);
}

try {
  const pyodide = await loadPyodide({
    indexURL: "/pyodide/",
    stdout: (line) => {
      printed.push(line);
      log.textContent += `${line}\n`;
    },
    stderr: (line) => console.error(line),
  });
  step("Pyodide loaded");

  // loadPackage reports a package it cannot load through errorCallback only
  const micropip = new URLSearchParams(location.search).get("micropip");
  let loadError = null;
  await pyodide.loadPackage(new URL(`/cache/${micropip}`, location.href).href, {
    errorCallback: (message) => { loadError = message; },
    messageCallback: () => {},
  });
  if (loadError !== null) throw new Error(`micropip did not load: ${loadError}`);
  step("micropip loaded");

  const archive = await (await get("/data/work.zip")).arrayBuffer();
  pyodide.unpackArchive(archive, "zip", { extractDir: "/work" });
  const wheels = (await (await get("/data/work/wheels/ORDER")).text()).split(/\s+/)
    .filter(Boolean).map((name) => new URL(`/data/work/wheels/${name}`, location.href).href);
  await pyodide.runPythonAsync(`
import micropip
for url in ${JSON.stringify(wheels)}:
    await micropip.install(url)
`);
  step("wheels installed");

  await runScript(pyodide, "main_thread.py", await (await get("/main_thread.py")).text());
  await runScript(pyodide, "check.py", pyodide.FS.readFile("/work/check.py", { encoding: "utf8" }));
  demo.state = "done";
  step("done");
} catch (e) {
  demo.state = "failed";
  demo.error = e?.message ?? String(e); // a Python exception's message is its traceback
  status.textContent = "failed";
  log.textContent += `\n${demo.error}`;
}
