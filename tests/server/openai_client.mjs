// OpenAI's official Node client (pinned in package-lock.json) against
// `edgerun serve` on fixture models: what an app written for OpenAI sees.
// node openai_client.mjs <edgerun binary> <source dir>
import OpenAI from "openai";

import { Checks, fixtures, startServer } from "./harness.mjs";

// The client over Node's own fetch: openai 4's default transport, node-fetch
// 2.7, misreports the end of a chunked stream as "Premature close" at times
// on Node 18 (Debian 12's) when the client stops reading at [DONE] just
// before the body's last chunk; the requests, responses and the client's
// parsing are the same either way.
const OpenAIClient = (options) => new OpenAI({ maxRetries: 0, fetch: globalThis.fetch, ...options });

const edgerun = process.argv[2];
const models = `${fixtures()}/models`;
const t = new Checks("openai client");
const key = "test-key-0123";

const main = await startServer(edgerun, ["-m", `${models}/tiny-qwen2/model-q8_0.gguf`, "-c", "512", "--parallel", "2",
                                         "--api-key", key, "-t", "2"]);
const client = OpenAIClient({ baseURL: `${main.url}/v1`, apiKey: key });
try {
  // Models.
  const list = await client.models.list();
  t.equal(list.data.length, 1, "one model listed");
  t.equal(list.data[0].id, "model-q8_0.gguf", "the model's name");

  // Chat, not streamed: greedy, a token limit.
  const ask = { model: "any", messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Tell me a story." }],
                temperature: 0, max_tokens: 12 };
  const full = await client.chat.completions.create(ask);
  const text = full.choices[0].message.content;
  t.ok(typeof text === "string" && text.length > 0, "an answer");
  t.equal(full.choices[0].message.role, "assistant", "the role");
  t.equal(full.choices[0].finish_reason, "length", "finish_reason at max_tokens");
  t.equal(full.usage.completion_tokens, 12, "usage: completion tokens");
  t.ok(full.usage.prompt_tokens > 5, "usage: prompt tokens");
  t.equal(full.usage.total_tokens, full.usage.prompt_tokens + 12, "usage: total");
  t.equal(full.object, "chat.completion", "object");

  // The same request streamed gives the same text, then a usage chunk.
  const stream = await client.chat.completions.create({ ...ask, stream: true, stream_options: { include_usage: true } });
  let streamed = "", chunks = 0, finish = null, usage = null;
  for await (const chunk of stream) {
    chunks++;
    if (chunk.usage) usage = chunk.usage;
    if (chunk.choices.length === 0) continue;
    streamed += chunk.choices[0].delta.content || "";
    if (chunk.choices[0].finish_reason) finish = chunk.choices[0].finish_reason;
  }
  t.equal(streamed, text, "streamed text equals the whole answer");
  t.ok(chunks >= 3, "several chunks");
  t.equal(finish, "length", "stream finish_reason");
  t.ok(usage && usage.completion_tokens === 12, "usage chunk");
  t.ok(usage && usage.prompt_tokens_details.cached_tokens > 0, "the repeated prompt came from the cache");

  // Stop strings: the answer ends where the stop string starts.
  const stopAt = text.slice(3, 6);
  const stopped = await client.chat.completions.create({ ...ask, max_tokens: 12, stop: [stopAt, "never-there"] });
  t.equal(stopped.choices[0].message.content, text.slice(0, text.indexOf(stopAt)), "cut at the stop string");
  t.equal(stopped.choices[0].finish_reason, "stop", "finish_reason at a stop string");

  // Seeds: the same seed, the same sampled text.
  const sampled = (seed) => client.chat.completions.create({ ...ask, temperature: 1.0, seed, max_tokens: 16 });
  const [a, b, c] = [await sampled(7), await sampled(7), await sampled(8)];
  t.equal(a.choices[0].message.content, b.choices[0].message.content, "seed 7 twice");
  t.ok(a.choices[0].message.content !== c.choices[0].message.content, "seed 8 differs");

  // Completions, streamed and not.
  const comp = await client.completions.create({ model: "any", prompt: "Once upon a time", max_tokens: 6, temperature: 0 });
  t.equal(comp.object, "text_completion", "completion object");
  t.equal(comp.usage.completion_tokens, 6, "completion tokens");
  t.ok(comp.choices[0].text.length > 0, "completion text");
  let compStreamed = "";
  for await (const chunk of await client.completions.create({ model: "any", prompt: "Once upon a time", max_tokens: 6,
                                                               temperature: 0, stream: true })) {
    compStreamed += chunk.choices[0]?.text || "";
  }
  t.equal(compStreamed, comp.choices[0].text, "streamed completion");

  // Errors arrive as the client's own error types.
  const wrong = OpenAIClient({ baseURL: `${main.url}/v1`, apiKey: "wrong" });
  await t.throwsStatus(() => wrong.chat.completions.create(ask), 401, "a wrong key",
                       (e) => e instanceof OpenAI.AuthenticationError);
  await t.throwsStatus(() => client.chat.completions.create({ ...ask, temperature: "hot" }), 400, "a wrong type",
                       (e) => e instanceof OpenAI.BadRequestError && e.message.includes("temperature"));
  await t.throwsStatus(() => client.chat.completions.create({ ...ask, messages: [{ role: "user", content: "word ".repeat(3000) }] }),
                       400, "a prompt longer than the context",
                       (e) => e instanceof OpenAI.BadRequestError && e.code === "context_length_exceeded");
  await t.throwsStatus(() => client.chat.completions.create({ ...ask, messages: [] }), 400, "no messages",
                       (e) => e instanceof OpenAI.BadRequestError);
} finally {
  t.equal(await main.stop(), 0, "the server exits cleanly on SIGTERM");
}

// A small server: one slot, no queue, small bodies: 413 and 503.
const small = await startServer(edgerun, ["-m", `${models}/tiny-qwen2/model-q8_0.gguf`, "-c", "16384", "--parallel", "1",
                                          "--max-queue", "0", "--max-body", "4096", "-t", "2"]);
const sc = OpenAIClient({ baseURL: `${small.url}/v1`, apiKey: "none" });
try {
  await t.throwsStatus(() => sc.chat.completions.create({ model: "x", messages: [{ role: "user", content: "a".repeat(8000) }] }),
                       413, "a body over --max-body", (e) => e instanceof OpenAI.APIError);
  // Long enough to hold the slot through the next request even on a loaded machine (the tiny
  // model writes thousands of tokens a second); seed 2's answer does not end before the limit.
  const long = sc.chat.completions.create({ model: "x", messages: [{ role: "user", content: "Tell me a long story." }],
                                            max_tokens: 16000, seed: 2, stream: true });
  const s = await long;  // the stream has started: the slot is taken
  const it = s[Symbol.asyncIterator]();
  await it.next();
  await t.throwsStatus(() => sc.chat.completions.create({ model: "x", messages: [{ role: "user", content: "hi" }] }), 503,
                       "all slots busy, no queue", (e) => e instanceof OpenAI.InternalServerError);
  t.ok(!(await it.next()).done, "the long answer was still streaming then");
  s.controller.abort();
} finally {
  t.equal(await small.stop(), 0, "the small server exits cleanly");
}

// A thinking model (R1's template): reasoning_content beside content, streamed too.
const r1 = await startServer(edgerun, ["-m", `${models}/tiny-qwen2/model-q8_0.gguf`, "-c", "512", "--parallel", "1", "-t", "2",
                                       "--chat-template-file", `${fixtures()}/chat_templates/deepseek_r1_distill/chat_template.jinja`]);
const rc = OpenAIClient({ baseURL: `${r1.url}/v1`, apiKey: "none" });
try {
  const think = { model: "x", messages: [{ role: "user", content: "Why?" }], temperature: 0, max_tokens: 10 };
  const r = await rc.chat.completions.create(think);
  t.ok(r.choices[0].message.reasoning_content?.length > 0, "reasoning_content in the message");
  let reasoning = "";
  for await (const chunk of await rc.chat.completions.create({ ...think, stream: true })) {
    reasoning += chunk.choices[0]?.delta?.reasoning_content || "";
  }
  t.equal(reasoning.trim(), r.choices[0].message.reasoning_content, "reasoning_content in stream deltas");
  // Reasoning sent back is not fed to the model: the same prompt as without it.
  const withBack = await rc.chat.completions.create({ ...think, messages: [
    { role: "user", content: "Why?" }, { role: "assistant", content: "Because.", reasoning_content: "secret thoughts" },
    { role: "user", content: "And?" }] });
  const without = await rc.chat.completions.create({ ...think, messages: [
    { role: "user", content: "Why?" }, { role: "assistant", content: "Because." }, { role: "user", content: "And?" }] });
  t.equal(withBack.usage.prompt_tokens, without.usage.prompt_tokens, "reasoning_content in messages is dropped");
} finally {
  t.equal(await r1.stop(), 0, "the thinking server exits cleanly");
}
t.finish();
