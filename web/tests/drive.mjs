// Opens the demo page in the system's headless Chromium and prints, as JSON on stdout, what
// the page computed (window.wasmcoreDemo), every console error, page error and failed
// request, and writes a full-page screenshot.
//
//   node drive.mjs URL SCREENSHOT.png [TIMEOUT_SECONDS]
//
// Run by tests/web/test_page.py (just test-web), which serves the page and checks the result.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const [url, screenshot, timeoutArg = "90"] = process.argv.slice(2);
if (!url || !screenshot) {
  console.error("usage: node drive.mjs URL SCREENSHOT.png [TIMEOUT_SECONDS]");
  process.exit(2);
}
const timeout = Number(timeoutArg) * 1000;
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";

// A fresh, empty profile; without the background-networking flags Chromium's own
// connections are refused on sandboxed machines and show up as errors.
const profile = mkdtempSync(join(tmpdir(), "wasmcore-chromium-"));
const report = { console: [], pageErrors: [], failedRequests: [], demo: null };
let context;
try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    viewport: { width: 1024, height: 900 },
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("console", (msg) => {
    if (msg.type() === "error" || msg.type() === "warning") {
      report.console.push({ type: msg.type(), text: msg.text(), location: msg.location() });
    }
  });
  page.on("pageerror", (err) => report.pageErrors.push(String(err.stack ?? err)));
  page.on("requestfailed", (req) =>
    report.failedRequests.push({ url: req.url(), failure: req.failure()?.errorText }));
  page.on("response", (res) => {
    if (res.status() >= 400) report.failedRequests.push({ url: res.url(), status: res.status() });
    if (res.url().endsWith(".wasm")) report.wasmContentType = res.headers()["content-type"];
  });

  await page.goto(url, { waitUntil: "load", timeout });
  try {
    await page.waitForFunction(
      () => ["done", "failed"].includes(window.wasmcoreDemo?.state), null, { timeout, polling: 100 });
  } catch (e) {
    report.driverError = String(e.stack ?? e); // still report what the page has, and take the picture
  }
  report.demo = await page.evaluate(() => window.wasmcoreDemo ?? null);
  report.status = await page.evaluate(() => document.getElementById("status")?.textContent);
  await page.screenshot({ path: screenshot, fullPage: true });
} catch (e) {
  report.driverError = String(e.stack ?? e);
} finally {
  await context?.close();
  rmSync(profile, { recursive: true, force: true });
}
process.stdout.write(JSON.stringify(report) + "\n");
