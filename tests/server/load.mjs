// A bounded load test on loopback: many concurrent clients, streaming and
// not, some hanging up mid-stream, some sending bad bodies. Every request
// must end with 200 or a proper error, no slot may stay busy, and the
// server's memory must come back to where it was.
// node load.mjs <edgerun binary> <source dir> [clients] [requests]
import { Checks, fixtures, rssKiB, startServer } from "./harness.mjs";

const edgerun = process.argv[2];
const clients = Number(process.argv[4] || 64);
const total = Number(process.argv[5] || 300);
const t = new Checks(`load (${clients} clients, ${total} requests)`);

const server = await startServer(edgerun, ["-m", `${fixtures()}/models/tiny-qwen2/model-q4_0.gguf`, "-c", "256",
                                           "--parallel", "4", "--max-queue", "48", "-t", "2"]);
const url = server.url;

async function metrics() {
  const text = await (await fetch(`${url}/metrics`)).text();
  const get = (name) => Number((text.match(new RegExp(`^${name} (\\d+)`, "m")) || [])[1]);
  return { busy: get("edgerun_slots_busy"), queued: get("edgerun_queue_depth"), requests: get("edgerun_requests_total") };
}

const chat = (content, extra = {}) => JSON.stringify({ model: "x", messages: [{ role: "user", content }], max_tokens: 24,
                                                        temperature: 0.7, ...extra });
const kinds = ["plain", "stream", "stream", "hangup", "bad-json", "bad-type", "plain", "stream", "completion", "too-long"];
const outcome = {};
const note = (k) => { outcome[k] = (outcome[k] || 0) + 1; };

async function one(i) {
  const kind = kinds[i % kinds.length];
  const post = (path, body, signal) => fetch(`${url}${path}`, { method: "POST", body, signal,
                                                                 headers: { "Content-Type": "application/json" } });
  const expectError = async (res, statuses) => {
    const ok = statuses.includes(res.status);
    const j = await res.json();
    t.ok(ok && j.error && typeof j.error.message === "string", `${kind}: status ${res.status} ${JSON.stringify(j)}`);
    note(`${kind} ${res.status}`);
  };
  if (kind === "bad-json") return expectError(await post("/v1/chat/completions", "{\"messages\": [oops"), [400]);
  if (kind === "bad-type") return expectError(await post("/v1/chat/completions", chat("hi", { max_tokens: "many" })), [400]);
  if (kind === "too-long") return expectError(await post("/v1/chat/completions", chat("word ".repeat(400))), [400]);
  const controller = new AbortController();
  // A seed per request: a random one could end the answer at its first token
  // (the tiny model's end-of-text is as likely as any), and the check below would fail by chance.
  const body = kind === "completion" ? JSON.stringify({ model: "x", prompt: `Story ${i}:`, max_tokens: 16, seed: i })
                                     : chat(`Request ${i}: tell me something.`, kind === "plain" ? { seed: i } : { stream: true, seed: i });
  const res = await post(kind === "completion" ? "/v1/completions" : "/v1/chat/completions", body, controller.signal);
  if (res.status === 503) return expectError(res, [503]);  // the queue was full: a proper answer too
  t.equal(res.status, 200, `${kind} ${i}`);
  if (kind === "plain" || kind === "completion") {
    const j = await res.json();
    t.ok(j.choices && j.choices.length === 1 && j.usage.completion_tokens > 0, `${kind} ${i} body`);
    return note(`${kind} 200`);
  }
  const reader = res.body.getReader();
  let text = "", reads = 0;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
      if (kind === "hangup" && ++reads === 2) {
        controller.abort();
        return note("hangup");
      }
    }
  } catch (e) {
    if (kind !== "hangup") throw e;
    return note("hangup");
  }
  t.ok(text.trimEnd().endsWith("data: [DONE]"), `${kind} ${i} ends with [DONE]`);
  note(`${kind} 200`);
}

async function round(n) {
  let next = 0;
  await Promise.all(Array.from({ length: clients }, async () => {
    while (next < n) {
      const i = next++;
      try {
        await one(i);
      } catch (e) {
        t.ok(false, `request ${i} (${kinds[i % kinds.length]}): ${e.message}${e.cause ? ": " + (e.cause.code || e.cause.message) : ""}`);
      }
    }
  }));
}
// Warm up at full concurrency: the weights fault in, and every connection
// thread gets its stack and malloc arena once; then measure the load itself.
await round(clients);
const rssBefore = rssKiB(server.pid);
const started = Date.now();
await round(total);
const seconds = (Date.now() - started) / 1000;

// Every slot idle and nothing queued once the hung-up streams are noticed.
let m = await metrics();
for (let i = 0; i < 100 && (m.busy !== 0 || m.queued !== 0); i++) {
  await new Promise((r) => setTimeout(r, 50));
  m = await metrics();
}
t.equal(m.busy, 0, "no slot left busy");
t.equal(m.queued, 0, "nothing left queued");
const rssAfter = rssKiB(server.pid);
if (process.env.EDGERUN_TEST_SANITIZED === "1") {
  // The allocator's quarantine holds freed blocks; the leak check is LeakSanitizer's, which makes
  // the server's exit status (checked below) non-zero if anything leaked.
  console.log(`RSS not compared under a sanitizer (${rssBefore} -> ${rssAfter} KiB); leaks are checked at exit`);
} else {
  t.ok(rssAfter <= rssBefore * 1.1, `RSS back within 10 %: ${rssBefore} KiB before, ${rssAfter} KiB after`);
}
const health = await fetch(`${url}/health`);
t.equal(health.status, 200, "still healthy");
console.log(`load: ${seconds.toFixed(1)} s, RSS ${rssBefore} -> ${rssAfter} KiB; ${JSON.stringify(outcome)}`);
t.equal(await server.stop(), 0, "the server exits cleanly");
t.finish();
