// The conversation layer: reasoning split, stop strings, turns on one session
// with prefix reuse, the context policy, and saved conversations.
#include <catch2/catch.hpp>

#include "edgerun.hpp"
#include "helpers.h"
#include "model/source.h"
#include "runtime/stop_strings.h"
#include "template/chat_template.h"

using namespace edgerun;

namespace {
std::string concat(const std::vector<Piece>& pieces, int kinds = 7) {
  std::string s;
  for (const auto& p : pieces)
    if (kinds & (1 << static_cast<int>(p.kind))) s += p.text;
  return s;
}
constexpr int kContent = 1, kReasoning = 2, kMarker = 4;

// Feeds `chunks` one after another; returns all pieces.
std::vector<Piece> split(const std::vector<std::string>& chunks, bool starts_inside) {
  ReasoningSplitter sp(ReasoningTags{}, starts_inside);
  std::vector<Piece> all;
  for (const auto& c : chunks) {
    auto p = sp.feed(c);
    all.insert(all.end(), p.begin(), p.end());
  }
  auto p = sp.flush();
  all.insert(all.end(), p.begin(), p.end());
  return all;
}

std::vector<std::string> chars(const std::string& s) {
  std::vector<std::string> out;
  for (char c : s) out.push_back(std::string(1, c));
  return out;
}

std::string model_path(const std::string& name) { return test::fixtures() + "/models/" + name; }

SessionOptions opts(int n_ctx) {
  SessionOptions so;
  so.n_ctx = n_ctx;
  so.n_threads = 1;
  return so;
}

TurnParams greedy(int max_tokens) {
  TurnParams p;
  p.sampling.temperature = 0;
  p.max_tokens = max_tokens;
  return p;
}

std::string answer_of(Chat& chat, const TurnParams& p, TurnStats* st = nullptr) {
  std::string out;
  TurnStats s = chat.respond(p, [&](const Piece& piece) {
    if (piece.kind == PieceKind::Content) out += piece.text;
    return true;
  });
  if (st) *st = s;
  return out;
}
}  // namespace

TEST_CASE("reasoning split: every way a thinking model starts, tags split anywhere", "[chat]") {
  const std::string own = "<think>\nLet me see.\n</think>\n\nIt is 4.";
  for (const auto& chunks : {std::vector<std::string>{own}, chars(own)}) {
    INFO("chunks of " << chunks.front().size());
    const auto p = split(chunks, false);
    CHECK(concat(p) == own);  // raw: exactly what the model wrote
    CHECK(concat(p, kReasoning) == "Let me see.\n");
    CHECK(concat(p, kContent) == "It is 4.");
    CHECK(concat(p, kMarker) == "<think>\n</think>\n\n");
  }
  // The prompt opened the reasoning (R1's template): the output holds only the close tag.
  const std::string r1 = "Two and two.\n</think>\n\nFour.";
  for (const auto& chunks : {std::vector<std::string>{r1}, chars(r1), std::vector<std::string>{"Two and two.\n</th", "ink>", "\n\nFour."}}) {
    const auto p = split(chunks, true);
    CHECK(concat(p) == r1);
    CHECK(concat(p, kReasoning) == "Two and two.\n");
    CHECK(concat(p, kContent) == "Four.");
  }
  // No reasoning at all, and a tag later in an answer is the answer's text.
  const std::string plain = "Plain answer, mentioning <think> tags.";
  for (const auto& chunks : {std::vector<std::string>{plain}, chars(plain)}) {
    const auto p = split(chunks, false);
    CHECK(concat(p, kContent) == plain);
    CHECK(concat(p, kReasoning).empty());
  }
  // Text that starts like a tag but is not one.
  CHECK(concat(split({"<th", "ought>"}, false), kContent) == "<thought>");
  // A reasoning block never closed stays reasoning; a budget closes it.
  ReasoningSplitter sp(ReasoningTags{}, true);
  CHECK(concat(sp.feed("still thinking </thi")) == "still thinking ");
  const auto closed = sp.force_close("\n</think>\n\n");
  CHECK(concat(closed, kReasoning) == "</thi");
  CHECK(concat(closed, kMarker) == "\n</think>\n\n");
  CHECK(concat(sp.feed("Answer")) == "Answer");
  CHECK_FALSE(sp.in_reasoning());
}

TEST_CASE("prompts that open reasoning and models that think are recognised", "[chat]") {
  const std::string r1 = test::read_file(test::fixtures() + "/chat_templates/deepseek_r1_distill/chat_template.jinja");
  REQUIRE(detect_reasoning(r1, nullptr).has_value());
  CHECK_FALSE(detect_reasoning("{{ messages[0].content }}", nullptr).has_value());
  CHECK(prompt_opens_reasoning("<｜Assistant｜><think>\n", ReasoningTags{}));
  CHECK_FALSE(prompt_opens_reasoning("<think>x</think>answer<｜User｜>hi<｜Assistant｜>", ReasoningTags{}));
  CHECK_FALSE(prompt_opens_reasoning("<|im_start|>assistant\n", ReasoningTags{}));
}

TEST_CASE("stop strings end the text before them, also split across pieces", "[chat]") {
  StopMatcher m({"END", "\n\n"});
  std::string out = m.feed("Hello E");
  out += m.feed("N");
  CHECK(out == "Hello ");
  CHECK_FALSE(m.stopped());
  out += m.feed("Dless");
  CHECK(m.stopped());
  CHECK(out == "Hello ");
  CHECK(m.feed("more").empty());
  StopMatcher none({});
  CHECK(none.feed("anything END") == "anything END");
  StopMatcher tail({"STOP"});
  CHECK(tail.feed("text ST") == "text ");
  CHECK(tail.flush() == "ST");  // not a stop after all: given back at the end
}

TEST_CASE("a model without a chat template cannot chat, and says so", "[chat]") {
  auto model = load_model(test::stories_gguf(), LoadOptions{"cpu"});
  REQUIRE(model.ok());
  Session s(**model, opts(128));
  CHECK_THROWS_WITH(Chat(s), Catch::Contains("stories260K.gguf") && Catch::Contains("no chat template"));
}

TEST_CASE("three turns: each evaluates only what is new, and the model sees exactly the conversation", "[chat]") {
  for (const char* name : {"tiny-qwen2/model-q8_0.gguf", "tiny-llama/model-q8_0.gguf", "tiny-qwen3/model-q4_0.gguf"}) {
    INFO(name);
    auto model = load_model(model_path(name), LoadOptions{"cpu"});
    REQUIRE(model.ok());
    const Tokenizer& tok = (*model)->tokenizer();
    Session s(**model, opts(1024));
    Chat chat(s);
    chat.set_system("You are terse.");
    const char* questions[] = {"Hello there, how are you?", "What is two and two?", "Thanks. And three and three?"};
    for (int turn = 0; turn < 3; ++turn) {
      const int in_cache = s.n_past();
      chat.add("user", questions[turn]);
      const std::string prompt = chat.render();
      TurnStats st;
      answer_of(chat, greedy(12), &st);
      CHECK(st.n_generated <= 12);
      CHECK(st.n_dropped == 0);
      CHECK(st.n_reused + st.n_evaluated == st.n_prompt);
      if (turn > 0) {
        // Everything in the KV cache from the turns before is reused, so only the new
        // message, the template's lines around it and the last answer's end are evaluated.
        CHECK(st.n_reused == in_cache);
        const int new_tokens = static_cast<int>(tok.encode(questions[turn], false).size());
        CHECK(st.n_evaluated <= new_tokens + 16);
        CHECK(st.n_evaluated < st.n_prompt / 2);
      }
      // The model saw exactly the rendered conversation: the cached tokens spell it.
      const std::vector<int32_t> prompt_tokens(s.tokens().begin(), s.tokens().begin() + st.n_prompt);
      CHECK(tok.decode(prompt_tokens) == prompt);
      CHECK(chat.messages().back().role == "assistant");
    }
    CHECK(chat.messages().size() == 7);
  }
}

TEST_CASE("history drops past reasoning exactly as the template would render it without", "[chat]") {
  const std::string r1 = test::read_file(test::fixtures() + "/chat_templates/deepseek_r1_distill/chat_template.jinja");
  auto model = load_model(model_path("tiny-qwen2/model-q8_0.gguf"), LoadOptions{"cpu"});
  REQUIRE(model.ok());
  Session s(**model, opts(1024));
  ChatOptions co;
  co.chat_template = r1;
  Chat chat(s, co);
  REQUIRE(chat.reasoning().has_value());
  chat.set_messages({{"system", "Be brief.", ""}, {"user", "2+2?", ""}, {"assistant", "4", "The user adds two and two."}, {"user", "3+3?", ""}});
  ChatTemplateInputs in;
  in.messages = nlohmann::ordered_json::array({{{"role", "system"}, {"content", "Be brief."}}, {{"role", "user"}, {"content", "2+2?"}},
                                              {{"role", "assistant"}, {"content", "4"}}, {{"role", "user"}, {"content", "3+3?"}}});
  const std::string expected = ChatTemplate(r1, "r1").render(in, &(*model)->tokenizer());
  CHECK(chat.render() == expected);
  CHECK(chat.render().find("adds two") == std::string::npos);
  CHECK(prompt_opens_reasoning(chat.render(), *chat.reasoning()));

  // The prompt opens <think>: everything the model writes is reasoning until it closes it;
  // a budget closes it and the answer follows.
  TurnParams p = greedy(20);
  p.reasoning_budget = 5;
  std::string reasoning, content, raw;
  const TurnStats st = chat.respond(p, [&](const Piece& piece) {
    raw += piece.text;
    if (piece.kind == PieceKind::Reasoning) reasoning += piece.text;
    if (piece.kind == PieceKind::Content) content += piece.text;
    return true;
  });
  CHECK(st.n_reasoning == 5);
  CHECK(st.n_generated == 20);
  CHECK(raw.find("</think>") != std::string::npos);
  CHECK(chat.messages().back().content == content);
  CHECK(chat.messages().back().reasoning.size() > 0);
  // The next render holds the answer but not the reasoning.
  chat.add("user", "ok");
  CHECK(chat.render().find(chat.messages()[4].reasoning) == std::string::npos);
}

TEST_CASE("a long conversation in a small context drops its oldest turns and never fails", "[chat]") {
  auto model = load_model(model_path("tiny-qwen2/model-q4_0.gguf"), LoadOptions{"cpu"});
  REQUIRE(model.ok());
  Session s(**model, opts(512));
  Chat chat(s);
  chat.set_system("You are a patient assistant.");
  int dropped = 0;
  std::string filler;
  for (int i = 0; i < 12; ++i) filler += "word" + std::to_string(i) + " ";
  for (int turn = 0; turn < 20; ++turn) {
    chat.add("user", "Turn " + std::to_string(turn) + ": " + filler);
    TurnStats st;
    REQUIRE_NOTHROW(answer_of(chat, greedy(48), &st));
    dropped += st.n_dropped;
    CHECK(st.n_prompt < 512);
    CHECK(chat.messages().front().role == "system");
  }
  CHECK(dropped > 0);

  // A single message larger than the context is refused, and the conversation goes on.
  const auto before = chat.messages();
  std::string huge;
  for (int i = 0; i < 600; ++i) huge += "long" + std::to_string(i) + " ";
  chat.add("user", huge);
  CHECK_THROWS_WITH(chat.respond(greedy(8), [](const Piece&) { return true; }), Catch::Contains("more than the context"));
  CHECK(chat.messages().size() == before.size());
  chat.add("user", "short again");
  CHECK_NOTHROW(answer_of(chat, greedy(4)));
}

TEST_CASE("cancel stops an answer at the next token, and the next turn works", "[chat]") {
  auto model = load_model(model_path("tiny-qwen2/model-q8_0.gguf"), LoadOptions{"cpu"});
  REQUIRE(model.ok());
  Session s(**model, opts(1024));
  Chat chat(s);
  chat.add("user", "Tell me a long story");
  int pieces = 0;
  const TurnStats st = chat.respond(greedy(100), [&](const Piece&) {
    if (++pieces == 3) chat.cancel();
    return true;
  });
  CHECK(st.finish_reason == "cancelled");
  CHECK(st.n_generated <= 4);
  chat.add("user", "Shorter, please");
  TurnStats st2;
  answer_of(chat, greedy(5), &st2);
  CHECK(st2.finish_reason != "cancelled");
}

TEST_CASE("a conversation saved as JSON loads back; a malformed file changes nothing", "[chat]") {
  auto model = load_model(model_path("tiny-qwen2/model-q8_0.gguf"), LoadOptions{"cpu"});
  REQUIRE(model.ok());
  Session s(**model, opts(1024));
  Chat chat(s);
  chat.set_system("sys");
  chat.add("user", "hi \xff there");  // invalid UTF-8 is replaced
  CHECK(chat.messages().back().content == "hi \xEF\xBF\xBD there");
  answer_of(chat, greedy(4));
  const std::string saved = chat.to_json();
  const auto loaded = Chat::from_json(saved, "conv.json");
  REQUIRE(loaded.size() == chat.messages().size());
  for (size_t i = 0; i < loaded.size(); ++i) {
    CHECK(loaded[i].role == chat.messages()[i].role);
    CHECK(loaded[i].content == chat.messages()[i].content);
  }
  const auto keep = chat.messages().size();
  for (const std::string& bad : std::vector<std::string>{"{", "{\"role\":\"user\"}", "[{\"role\":\"wizard\",\"content\":\"x\"}]", "[{\"role\":\"user\",\"content\":3}]",
                                std::string(100000, '[') + std::string(100000, ']')}) {
    INFO(bad.substr(0, 40));
    CHECK_THROWS_WITH(chat.set_messages(Chat::from_json(bad, "conv.json")), Catch::Contains("conv.json"));
    CHECK(chat.messages().size() == keep);
  }
  CHECK_THROWS_WITH(chat.add("wizard", "x"), Catch::Contains("wizard"));
}

TEST_CASE("--no-think: enable_thinking false reaches the template", "[chat]") {
  auto model = load_model(model_path("tiny-qwen3/model-q8_0.gguf"), LoadOptions{"cpu"});
  REQUIRE(model.ok());
  Session s(**model, opts(512));
  ChatOptions co;
  co.enable_thinking = false;
  Chat quiet(s, co);
  quiet.add("user", "hi");
  CHECK_THAT(quiet.render(), Catch::EndsWith("<|im_start|>assistant\n<think>\n\n</think>\n\n"));
  Chat normal(s);
  normal.add("user", "hi");
  CHECK_THAT(normal.render(), Catch::EndsWith("<|im_start|>assistant\n"));
}

TEST_CASE("sampling defaults come from generation_config.json and survive conversion", "[chat]") {
  auto hf = load_model(model_path("tiny-qwen3/hf"), LoadOptions{"cpu"});
  REQUIRE(hf.ok());
  const SamplingDefaults d = sampling_defaults((*hf)->source().metadata());
  REQUIRE(d.temperature.has_value());
  CHECK(*d.temperature == 0.0f);  // do_sample false: greedy
  CHECK_FALSE(d.top_p.has_value());
  auto gguf = load_model(model_path("tiny-qwen3/model-q8_0.gguf"), LoadOptions{"cpu"});
  REQUIRE(gguf.ok());
  CHECK_FALSE(sampling_defaults((*gguf)->source().metadata()).temperature.has_value());
}
