// The chat page in headless Chromium, driven through Debian's chromedriver
// (WebDriver over HTTP, so no browser download): type a message, send it,
// see the answer stream in; a screenshot is left beside the build.
// node browser.mjs <edgerun binary> <source dir> <screenshot.png>
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { Checks, fixtures, startServer } from "./harness.mjs";

const edgerun = process.argv[2];
for (const tool of ["/usr/bin/chromium", "/usr/bin/chromedriver"]) {
  if (!existsSync(tool)) {
    console.log(`skipped: ${tool} not found (Debian: chromium, chromium-driver)`);
    process.exit(0);
  }
}
const screenshot = process.argv[4] || join(tmpdir(), "edgerun-chat-page.png");
const t = new Checks("browser");

const freePort = () => new Promise((resolve) => {
  const s = createServer().listen(0, "127.0.0.1", () => {
    const { port } = s.address();
    s.close(() => resolve(port));
  });
});

const port = await freePort();
const driver = spawn("/usr/bin/chromedriver", [`--port=${port}`], { stdio: "ignore" });
const profile = mkdtempSync(join(tmpdir(), "edgerun-chromium-"));
const wd = `http://127.0.0.1:${port}`;

async function call(method, path, body) {
  const res = await fetch(`${wd}${path}`, { method, headers: { "Content-Type": "application/json" },
                                            body: body ? JSON.stringify(body) : undefined });
  const j = await res.json();
  if (!res.ok) throw new Error(`${method} ${path}: ${JSON.stringify(j.value)}`);
  return j.value;
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function chatOnce(serverArgs, checkShown, shot) {
 const server = await startServer(edgerun, ["-m", `${fixtures()}/models/tiny-qwen2/model-q8_0.gguf`, "-c", "512",
                                            "--parallel", "1", "-t", "2", "--temp", "0", ...serverArgs]);
 try {
  for (let i = 0; i < 100; i++) {
    try { await call("GET", "/status"); break; } catch { await sleep(100); }
  }
  const session = await call("POST", "/session", { capabilities: { alwaysMatch: {
    browserName: "chrome",
    "goog:chromeOptions": { binary: "/usr/bin/chromium", args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
      "--window-size=900,700", `--user-data-dir=${profile}`] } } } });
  const s = `/session/${session.sessionId}`;
  // An element reference is an object with one key (W3C's, or the older "ELEMENT").
  const find = async (css) => Object.values(await call("POST", `${s}/element`, { using: "css selector", value: css }))[0];
  const script = (code) => call("POST", `${s}/execute/sync`, { script: code, args: [] });

  await call("POST", `${s}/url`, { url: `${server.url}/` });
  t.equal(await call("GET", `${s}/title`), "edgerun", "the page's title");
  const input = await find("#input");
  await call("POST", `${s}/element/${input}/value`, { text: "Hello, who are you?" });
  await call("POST", `${s}/element/${await find("#send")}/click`, {});
  let state = null;
  for (let i = 0; i < 300 && state !== "done"; i++) {
    await sleep(100);
    state = await script("const a = document.querySelector('.assistant'); return a ? a.dataset.state : null;");
  }
  t.equal(state, "done", "the answer finished streaming");
  const shown = await script(`return {
    user: document.querySelector('.user')?.textContent,
    answer: document.querySelector('.assistant .answer')?.textContent || '',
    thinking: document.querySelector('.assistant details.thinking div')?.textContent || '',
    open: document.querySelector('.assistant details.thinking')?.open,
    errors: document.querySelectorAll('.error').length,
    model: document.getElementById('model').textContent };`);
  t.equal(shown.user, "Hello, who are you?", "the message is shown");
  t.equal(shown.errors, 0, "no error shown");
  t.equal(shown.model, "model-q8_0.gguf", "the model's name from /v1/models");
  checkShown(shown);
  if (shot) {
    writeFileSync(shot, Buffer.from(await call("GET", `${s}/screenshot`), "base64"));
    console.log(`browser: screenshot in ${shot}`);
  }
  await call("DELETE", s);
 } finally {
  t.equal(await server.stop(), 0, "the server exits cleanly");
 }
}

try {
  // A model that answers: the streamed answer is on the page.
  await chatOnce([], (shown) => {
    t.ok(shown.answer.trim().length > 0, "the streamed answer is shown");
    t.equal(shown.thinking, "", "no reasoning section for a model that does not think");
  }, screenshot);
  // A thinking model (R1's template): its reasoning goes into a collapsed section.
  await chatOnce(["--chat-template-file", `${fixtures()}/chat_templates/deepseek_r1_distill/chat_template.jinja`], (shown) => {
    t.ok(shown.thinking.length > 0, "the reasoning streamed into its section");
    t.equal(shown.open, false, "the reasoning is shown collapsed");
  }, screenshot.replace(/\.png$/, "-thinking.png"));
} catch (e) {
  t.ok(false, e.message);
} finally {
  driver.kill();
  rmSync(profile, { recursive: true, force: true });
}
t.finish();
