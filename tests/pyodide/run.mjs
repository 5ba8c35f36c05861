// Runs tests/pyodide/check.py inside Pyodide under Node, offline (just test-pyodide).
//
//   node run.mjs WORK MICROPIP_WHEEL
//
// WORK (made by tests/pyodide/run.py) holds the wheels to install (wheels/, installed in the
// order of wheels/ORDER), the modules and files check.py reads, and check.py itself; it is
// copied into Pyodide's file system as /work. Pyodide comes from the pinned npm package
// (package-lock.json), micropip from a wheel downloaded from PyPI beforehand. Prints what
// check.py prints; exits 1 on any Python exception, JavaScript error or package that does not
// load.
import { loadPyodide } from "pyodide";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const [work, micropip] = process.argv.slice(2);
if (!work || !micropip) {
  console.error("usage: node run.mjs WORK MICROPIP_WHEEL");
  process.exit(2);
}
const fail = (what) => {
  console.error(`run.mjs: ${what}`);
  process.exit(1);
};
process.on("unhandledRejection", (e) => fail(`unhandled rejection: ${e?.stack ?? e}`));

const here = dirname(fileURLToPath(import.meta.url));
const started = performance.now();
const pyodide = await loadPyodide({
  indexURL: join(here, "node_modules", "pyodide"),
  stdout: (line) => console.log(line),
  stderr: (line) => console.error(line),
});
// loadPackage reports a package it cannot load through errorCallback only
let loadError = null;
await pyodide.loadPackage(micropip, {
  errorCallback: (message) => { loadError = message; },
  messageCallback: () => {},
});
if (loadError !== null) fail(`micropip did not load: ${loadError}`);

function copy(from, to) {
  pyodide.FS.mkdirTree(to);
  for (const name of readdirSync(from)) {
    const path = join(from, name);
    if (statSync(path).isDirectory()) copy(path, `${to}/${name}`);
    else pyodide.FS.writeFile(`${to}/${name}`, readFileSync(path));
  }
}
copy(work, "/work");
const loaded = performance.now();

try {
  await pyodide.runPythonAsync(`
import micropip
for wheel in open("/work/wheels/ORDER").read().split():
    await micropip.install("emfs:/work/wheels/" + wheel)
`);
  await pyodide.runPythonAsync(readFileSync(join(work, "check.py"), "utf8"),
                               { filename: "check.py" });
} catch (e) {
  fail(e?.message ?? String(e));  // a Python exception's message is its traceback
}
console.error(`run.mjs: Pyodide ${pyodide.version} loaded in ` +
              `${((loaded - started) / 1000).toFixed(1)} s, ran in ` +
              `${((performance.now() - loaded) / 1000).toFixed(1)} s`);
