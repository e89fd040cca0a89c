// The playground in a real headless Chromium (Debian's `chromium`, driven by playwright-core): the page must report
// exactly what `packager run` reports for the same settings, export settings that reproduce it, and list malformed
// lines without breaking. Screenshots go to target/artifacts/.
//
// Needs: the built playground (../scripts/build.sh), the packager binary (cargo build -p packager), chromium.
// Env: PLAYGROUND_DIR, PACKAGER, CHROMIUM, ARTIFACTS override the defaults below.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createServer } from "node:http";
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../../..");
const target = process.env.CARGO_TARGET_DIR || path.join(root, "target");
const site = process.env.PLAYGROUND_DIR || path.join(target, "playground");
const packagerBin = process.env.PACKAGER || path.join(target, "debug", "packager");
const chromiumBin = process.env.CHROMIUM || "/usr/bin/chromium";
const artifacts = process.env.ARTIFACTS || path.join(target, "artifacts");
const sample = path.join(site, "sample.jsonl");

const TYPES = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm", ".jsonl": "text/plain" };
let server, browser, page, url;
const pageErrors = [];

/** `packager run` with `args` on `file`: the anomalies it prints and its stderr summary. */
function packagerRun(args, file) {
  const out = execFileSync(packagerBin, ["run", ...args, file], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], env: { PATH: process.env.PATH } });
  return out.split("\n").filter((l) => l.trim()).length;
}

function packagerSummary(args, file) {
  const result = execFileSync("sh", ["-c", '"$0" "$@" 2>&1 >/dev/null', packagerBin, "run", ...args, file], { encoding: "utf8", env: { PATH: process.env.PATH } });
  const number = (name) => Number(result.match(new RegExp(`${name} ([0-9.]+)`))[1]);
  return { precision: number("precision"), recall: number("recall"), f1: number("F1") };
}

const text = (id) => page.locator(`#${id}`).textContent();
// Slider input is coalesced into one replay per animation frame: wait two frames for it to land.
const settle = () => page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r()))));

before(async () => {
  for (const [what, file] of [["the playground (detector-wasm/web/scripts/build.sh)", path.join(site, "index.html")], ["packager (tests/debug-build.sh)", packagerBin], ["chromium (apt-get install chromium)", chromiumBin]]) {
    assert.ok(existsSync(file), `${file} is missing: build or install ${what}`);
  }
  mkdirSync(artifacts, { recursive: true });
  server = createServer((req, res) => {
    const rel = decodeURIComponent(new URL(req.url, "http://x").pathname).replace(/^\/+/, "") || "index.html";
    const file = path.join(site, rel);
    if (!file.startsWith(site) || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": TYPES[path.extname(file)] || "application/octet-stream" }).end(readFileSync(file));
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${server.address().port}/`;
  browser = await chromium.launch({ executablePath: chromiumBin, args: ["--no-sandbox"] });
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  await page.goto(url);
  await page.waitForSelector("body[data-ready=true]", { timeout: 30000 });
});

after(async () => {
  await browser?.close();
  await new Promise((r) => (server ? server.close(r) : r()));
});

test("the labeled sample gives exactly packager run's anomalies, before and after moving the threshold", async () => {
  await page.click("#load-sample");
  await page.waitForFunction(() => document.getElementById("count-events").textContent === "4000");
  const atDefault = Number(await text("count-anomalies"));
  assert.equal(atDefault, packagerRun([], sample), "default settings");

  // A user lowers the threshold from 3.0 to 2.5 with the keyboard (5 steps of 0.1).
  await page.focus("#threshold_multiplier");
  for (let i = 0; i < 5; i += 1) await page.keyboard.press("ArrowLeft");
  await settle();
  assert.equal(await page.inputValue("#threshold_multiplier"), "2.5");
  const lowered = Number(await text("count-anomalies"));
  assert.equal(lowered, packagerRun(["--threshold-multiplier", "2.5"], sample), "threshold 2.5");
  assert.ok(lowered > atDefault, `a lower threshold flags more (${lowered} vs ${atDefault})`);
  const scores = packagerSummary(["--threshold-multiplier", "2.5"], sample);
  assert.equal(await text("precision"), scores.precision.toFixed(3));
  assert.equal(await text("recall"), scores.recall.toFixed(3));
  assert.equal(await text("f1"), scores.f1.toFixed(3));

  await page.selectOption("#detector", "ewma");
  await settle();
  assert.equal(Number(await text("count-anomalies")), packagerRun(["--detector", "ewma", "--threshold-multiplier", "2.5"], sample), "ewma at 2.5");
  const rows = await page.locator("#anomalies tbody tr").count();
  assert.equal(rows, Number(await text("count-anomalies")) + Number(await text("count-misses")), "one row per anomaly and per miss");
  await page.screenshot({ path: path.join(artifacts, "playground.png"), fullPage: true });
});

test("exported settings deploy the same detector: packager.toml reproduces the count, terraform names the variables", async () => {
  await page.click("#export");
  const toml = await page.inputValue("#export-toml");
  const tfvars = await page.inputValue("#export-tf");
  assert.match(toml, /^\[detector\]$/m);
  assert.match(toml, /^threshold_multiplier = 2\.5$/m);
  assert.match(toml, /^detector = "ewma"$/m);
  assert.match(tfvars, /^anomaly_threshold_multiplier = 2\.5$/m);
  assert.match(tfvars, /^detector +?= "ewma"$/m);
  assert.match(tfvars, /^min_events +?= 3$/m);
  const dir = mkdtempSync(path.join(tmpdir(), "playground-"));
  const config = path.join(dir, "packager.toml");
  writeFileSync(config, toml);
  assert.equal(packagerRun(["--config", config], sample), Number(await text("count-anomalies")), "packager.toml from the export");
});

test("malformed lines are listed with line numbers and reasons, and the page keeps working", async () => {
  const good = (id, amount) => JSON.stringify({ userId: "u1", amount, timestamp: 1767225600000 + id * 60000, transactionId: `t${id}` });
  const lines = [good(1, 10), "{broken", JSON.stringify({ userId: "u1", amount: "ten", timestamp: 1767225700000 }), "", JSON.stringify({ amount: 5, timestamp: 1767225800000 }), good(6, 12)];
  await page.setInputFiles("#file", { name: "bad.jsonl", mimeType: "text/plain", buffer: Buffer.from(lines.join("\n") + "\n") });
  await page.waitForFunction(() => document.getElementById("count-events").textContent === "2");
  const listed = await page.locator("#invalid li").allTextContents();
  assert.equal(listed.length, 3, listed.join("\n"));
  assert.match(listed[0], /^line 2: /);
  assert.match(listed[1], /^line 3: field `amount`: /);
  assert.match(listed[2], /^line 5: field `userId`: /);
  assert.equal(await text("count-invalid"), "3");
  await page.screenshot({ path: path.join(artifacts, "playground-malformed.png"), fullPage: true });

  await page.setInputFiles("#file", { name: "bad.csv", mimeType: "text/csv", buffer: Buffer.from("userId,amount,timestamp\nu1,5,1767225600000\nu1,\"6\n") });
  await page.waitForFunction(() => document.getElementById("count-invalid").textContent === "1");
  assert.match((await page.locator("#invalid li").allTextContents())[0], /^line 3: csv row: .*quote/);

  // Still alive: a generated stream replays and is scored.
  await page.click("#generate");
  await page.waitForFunction(() => document.getElementById("count-events").textContent === "3000");
  assert.equal(await page.locator("#scores").isVisible(), true);
  assert.deepEqual(pageErrors, [], "no uncaught errors on the page");
});
