// `edgerun chat` and `run --chat` as a user drives them: through a pipe, and in
// a real terminal (tmux).
#include <catch2/catch.hpp>
#include <chrono>
#include <regex>
#include <thread>

#include "helpers.h"

namespace {
std::string quote(const std::string& s) { return "'" + s + "'"; }
std::string model(const std::string& name) { return quote(test::fixtures() + "/models/" + name); }
const std::string kQwen2 = model("tiny-qwen2/model-q8_0.gguf");
const std::string kLlama = model("tiny-llama/model-q8_0.gguf");

// Runs `chat ARGS` with `input` on its standard input; stdout and stderr apart.
struct ChatRun {
  int code;
  std::string out, err;
};
ChatRun chat(const std::string& args, const std::string& input) {
  const std::string in = test::temp_path("chat_in.txt"), err = test::temp_path("chat_err.txt");
  test::write_file(in, input);
  const auto r = test::run_cli("chat " + args + " < " + quote(in) + " 2> " + quote(err));
  ChatRun c{r.code, r.out, test::read_file(err)};
  std::remove(in.c_str());
  std::remove(err.c_str());
  return c;
}

struct TurnLine {
  int prompt, reused, evaluated;
};
std::vector<TurnLine> turns(const std::string& err) {
  std::vector<TurnLine> out;
  const std::regex re(R"(turn \d+: prompt (\d+) tokens \((\d+) reused, (\d+) evaluated)");
  for (auto it = std::sregex_iterator(err.begin(), err.end(), re); it != std::sregex_iterator(); ++it)
    out.push_back({std::stoi((*it)[1]), std::stoi((*it)[2]), std::stoi((*it)[3])});
  return out;
}

// The text between two lines of output that start with `from` and `to` ("" = the end).
std::string between(const std::string& s, const std::string& from, const std::string& to) {
  const size_t a = s.find(from);
  if (a == std::string::npos) return "<" + from + " missing>";
  const size_t start = s.find('\n', a) + 1;
  const size_t end = to.empty() ? s.size() : s.find(to, start);
  return s.substr(start, end == std::string::npos ? std::string::npos : end - start);
}
}  // namespace

TEST_CASE("chat through a pipe: one turn per line, later turns evaluate only what is new", "[chat_cli]") {
  const auto r = chat("-m " + kQwen2 + " -n 12 --temp 0 -v", "Hello there, how are you?\nWhat is two and two?\nAnd three and three?\n");
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  const auto t = turns(r.err);
  REQUIRE(t.size() == 3);
  CHECK(t[0].reused == 0);
  for (int i = 1; i < 3; ++i) {
    CHECK(t[i].reused + t[i].evaluated == t[i].prompt);
    CHECK(t[i].reused >= t[i - 1].prompt + 11);  // the last turn's prompt and its answer (its last token waits)
    CHECK(t[i].evaluated <= 30);  // the new message and the template's lines around it
  }
  CHECK_THAT(r.err, Catch::Contains("sampling: temperature 0 (flag)"));

  // A trailing backslash continues the message on the next line: two lines, one turn.
  const auto c = chat("-m " + kQwen2 + " -n 4 --temp 0 -v", "first line \\\nsecond line\n");
  CHECK(turns(c.err).size() == 1);
}

TEST_CASE("chat: sampling defaults from the model, flags win, and a converted .erm keeps them", "[chat_cli]") {
  const std::string hf = model("tiny-qwen3/hf");
  auto r = chat("-m " + hf + " -n 2 -v", "hi\n");
  CHECK_THAT(r.err, Catch::Contains("temperature 0 (model)") && Catch::Contains("top-p 0.95 (default)"));
  r = chat("-m " + hf + " -n 2 -v --temp 0.5", "hi\n");
  CHECK_THAT(r.err, Catch::Contains("temperature 0.5 (flag)"));
  const std::string erm = test::temp_path("defaults.erm");
  REQUIRE(test::run_cli("convert " + hf + " -o " + quote(erm) + " --quant q8_0").code == 0);
  r = chat("-m " + quote(erm) + " -n 2 -v", "hi\n");
  CHECK_THAT(r.err, Catch::Contains("temperature 0 (model)"));
  std::remove(erm.c_str());
}

TEST_CASE("chat: /save then /load restores the conversation and the next answer is the same", "[chat_cli]") {
  const std::string saved = test::temp_path("conv.json");
  const auto r = chat("-m " + kQwen2 + " -n 10 --temp 0",
                      "First question\n/save " + saved + "\nWhat comes next?\n/load " + saved + "\nWhat comes next?\n");
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  const std::string first = between(r.out, "(saved 2 messages", "(loaded");
  const std::string again = between(r.out, "(loaded 2 messages", "");
  CHECK(first.size() > 1);
  CHECK(first == again);
  const std::string json = test::read_file(saved);
  CHECK_THAT(json, Catch::Contains("\"role\": \"user\"") && Catch::Contains("First question"));

  // A malformed file leaves the conversation as it was.
  const std::string bad = test::temp_path("bad.json"), after = test::temp_path("after.json");
  test::write_file(bad, "[{\"role\": \"user\", \"content\": ");
  const auto b = chat("-m " + kQwen2 + " -n 4 --temp 0", "Hello\n/load " + bad + "\n/save " + after + "\n");
  CHECK(b.code == 0);
  CHECK_THAT(b.err, Catch::Contains(bad) && Catch::Contains("malformed JSON"));
  CHECK_THAT(test::read_file(after), Catch::Contains("Hello"));
  CHECK_THAT(b.out, Catch::Contains("(saved 2 messages"));
  for (const auto& f : {saved, bad, after}) std::remove(f.c_str());
}

TEST_CASE("chat: a small context and twenty long turns run to the end, dropping old turns", "[chat_cli]") {
  std::string input;
  for (int t = 0; t < 20; ++t) {
    input += "Turn " + std::to_string(t) + ":";
    for (int w = 0; w < 15; ++w) input += " word" + std::to_string(w);
    input += "\n";
  }
  const auto r = chat("-m " + kQwen2 + " -c 512 -n 48 --temp 0", input);
  INFO(r.err);
  CHECK(r.code == 0);
  CHECK_THAT(r.err, Catch::Contains("dropped its"));
  CHECK_THAT(r.err, !Catch::Contains("error"));

  // One message larger than the context: refused, and the next one is answered.
  std::string huge;
  for (int w = 0; w < 700; ++w) huge += " long" + std::to_string(w);
  const auto h = chat("-m " + kQwen2 + " -c 256 -n 4 --temp 0 -v", huge + "\nshort one\n");
  CHECK(h.code == 0);
  CHECK_THAT(h.err, Catch::Contains("more than the context of 256 tokens"));
  CHECK(turns(h.err).size() == 1);
  CHECK_THAT(h.err, Catch::Contains("turn 2: prompt"));
  CHECK(h.out.rfind("\n", 0) != 0);  // nothing printed for the refused message
}

TEST_CASE("chat: bad input gets a clear message, never a crash", "[chat_cli]") {
  const auto none = chat("-m " + quote(test::stories_gguf()), "hi\n");
  CHECK(none.code != 0);
  CHECK(none.code < 128);
  CHECK_THAT(none.err, Catch::Contains("no chat template") && Catch::Contains("edgerun run"));
  // Invalid UTF-8 typed in is replaced, and answered.
  const auto u = chat("-m " + kQwen2 + " -n 4 --temp 0 -v", "caf\xc3 \xff\xfe ok\n");
  CHECK(u.code == 0);
  CHECK(turns(u.err).size() == 1);
  const auto unknown = chat("-m " + kQwen2 + " -n 4", "/frobnicate\n");
  CHECK(unknown.code == 0);
  CHECK_THAT(unknown.err, Catch::Contains("unknown command /frobnicate"));
  CHECK(chat("-m " + kQwen2 + " --reasoning loud", "").code != 0);
}

TEST_CASE("chat: reasoning shown apart, hidden, or raw; a budget closes it", "[chat_cli]") {
  const std::string r1 = quote(test::fixtures() + "/chat_templates/deepseek_r1_distill/chat_template.jinja");
  const std::string base = "-m " + kQwen2 + " --chat-template-file " + r1 + " -n 12 --temp 0 --reasoning-budget 4 ";
  const auto show = chat(base + "--reasoning show", "Why?\n");
  const auto hide = chat(base + "--reasoning hide", "Why?\n");
  const auto raw = chat(base + "--reasoning raw", "Why?\n");
  INFO(show.out << "\n--\n" << hide.out << "\n--\n" << raw.out);
  REQUIRE(show.code == 0);
  REQUIRE(hide.code == 0);
  REQUIRE(raw.code == 0);
  // The template opened <think>: the first four tokens are reasoning, then the budget closes it.
  CHECK(show.out.rfind("[thinking]\n", 0) == 0);
  CHECK_THAT(show.out, Catch::Contains("\n[answer]\n"));
  const std::string answer = between(show.out, "[answer]", "");
  CHECK(hide.out == answer);
  CHECK_THAT(raw.out, Catch::Contains("</think>") && !Catch::Contains("[thinking]"));
  CHECK(raw.out.size() > hide.out.size());
}

TEST_CASE("run --chat: one turn through the template", "[chat_cli]") {
  const auto r = test::run_cli("run -m " + kQwen2 + " --chat -p 'Hello' --system 'Be terse.' -n 6 --temp 0 2>/dev/null");
  CHECK(r.code == 0);
  const auto c = chat("-m " + kQwen2 + " -n 6 --temp 0 --system 'Be terse.'", "Hello\n");
  CHECK(r.out == c.out);
  const auto none = test::run_cli("run -m " + quote(test::stories_gguf()) + " --chat -p hi");
  CHECK(none.code != 0);
  CHECK_THAT(none.out, Catch::Contains("no chat template"));
}

namespace {
// A terminal of our own: tmux on a private socket.
class Tmux {
 public:
  // A socket per terminal: one test's server, still exiting, cannot refuse the next one's session.
  Tmux() : sock_("edgerun_test_" + std::to_string(::getpid()) + "_" + std::to_string(next_id()++)) {}
  ~Tmux() { sh("kill-server"); }
  int sh(const std::string& args) const { return std::system(("tmux -L " + sock_ + " " + args + " >/dev/null 2>&1").c_str()); }
  // The screen's text; with_escapes: with the colour and attribute codes too.
  std::string screen(bool with_escapes = false) const {
    return run("tmux -L " + sock_ + " capture-pane -p -J -S - -t t" + (with_escapes ? " -e" : ""));
  }
  // Waits until the screen satisfies `ok`, up to `seconds` (generous: a loaded
  // machine runs the whole suite beside it).
  template <typename F>
  bool wait_for(F ok, double seconds = 40) const {
    const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < end) {
      if (ok(screen())) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

 private:
  static int& next_id() {
    static int id = 0;
    return id;
  }
  static std::string run(const std::string& cmd) {
    std::string out;
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) return out;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    pclose(p);
    return out;
  }
  std::string sock_;
};

// A screen test: the input prompt is drawn on a line after `marker`. Keys sent
// before it are echoed by the terminal ahead of the prompt, so a test that
// types early, or looks for its own words, would match too soon.
auto prompt_after(const std::string& marker) {
  return [marker](const std::string& s) {
    const size_t at = s.find(marker);
    return at != std::string::npos && s.find("\n>", at + marker.size()) != std::string::npos;
  };
}

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t i = s.find(what); i != std::string::npos; i = s.find(what, i + 1)) ++n;
  return n;
}
}  // namespace

TEST_CASE("chat in a real terminal: Ctrl-C stops an answer, the next turn works, Ctrl-D leaves", "[chat_cli]") {
  REQUIRE(std::system("command -v tmux >/dev/null") == 0);  // make deps installs it
  Tmux tmux;
  const std::string done = test::temp_path("tmux_done");
  std::remove(done.c_str());
#ifdef EDGERUN_CLI_LAUNCHER
  const std::string cli = std::string(EDGERUN_CLI_LAUNCHER) + " " + EDGERUN_CLI;
#else
  const std::string cli = EDGERUN_CLI;
#endif
  // --ignore-eos: an answer long enough to interrupt; -n keeps the second one finite.
  const std::string err = test::temp_path("tmux_err");
  const std::string cmd = cli + " chat -m " + kLlama + " --temp 0 -c 8192 -n 3000 --ignore-eos -v 2>" + err + "; echo EXIT=$? > " + done;
  REQUIRE(tmux.sh("new-session -d -s t -x 150 -y 40 " + quote(cmd)) == 0);
  REQUIRE(tmux.wait_for(prompt_after("/help for commands")));
  tmux.sh("send-keys -t t 'Hello there' Enter");
  // Some of the answer on screen, then Ctrl-C.
  REQUIRE(tmux.wait_for([](const std::string& s) { return s.find("Hello there") != std::string::npos && s.size() > 400; }));
  tmux.sh("send-keys -t t C-c");
  REQUIRE(tmux.wait_for([](const std::string& s) { return s.find("(stopped)\n>") != std::string::npos; }));
  tmux.sh("send-keys -t t '/help' Enter");
  REQUIRE(tmux.wait_for([](const std::string& s) { return s.find("/save FILE") != std::string::npos; }));
  // The next turn is answered in full (-n tokens): -v says so on stderr when it is done.
  tmux.sh("send-keys -t t 'second message' Enter");
  auto log_has = [&](const std::string& what) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (test::read_file(err).find(what) == std::string::npos && std::chrono::steady_clock::now() < end)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return test::read_file(err).find(what) != std::string::npos;
  };
  REQUIRE(log_has("turn 2:"));
  const std::string log = test::read_file(err);
  CHECK_THAT(log, Catch::Contains("turn 1:") && Catch::Contains("cancelled"));
  CHECK_THAT(log.substr(log.find("turn 2:")), Catch::Contains("generated 3000 tokens") && Catch::Contains("token limit"));
  REQUIRE(tmux.wait_for([](const std::string& s) { return s.rfind("\n>") != std::string::npos; }));
  CHECK(count(tmux.screen(), "(stopped)") == 1);
  // Ctrl-D at the prompt leaves, with exit status 0.
  tmux.sh("send-keys -t t C-d");
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (test::read_file(done).empty() && std::chrono::steady_clock::now() < end)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(test::read_file(done) == "EXIT=0\n");
  std::remove(err.c_str());
  std::remove(done.c_str());
}

TEST_CASE("chat in a real terminal: reasoning dimmed, Ctrl-C at the prompt leaves", "[chat_cli]") {
  REQUIRE(std::system("command -v tmux >/dev/null") == 0);
  Tmux tmux;
  const std::string done = test::temp_path("tmux_done2");
  std::remove(done.c_str());
  const std::string r1 = quote(test::fixtures() + "/chat_templates/deepseek_r1_distill/chat_template.jinja");
  const std::string cmd = std::string(EDGERUN_CLI) + " chat -m " + kQwen2 + " --chat-template-file " + r1 +
                          " --temp 0 -n 12 --reasoning-budget 4 2>/dev/null; echo EXIT=$? > " + done;
  REQUIRE(tmux.sh("new-session -d -s t -x 150 -y 40 " + quote(cmd)) == 0);
  REQUIRE(tmux.wait_for(prompt_after("/help for commands")));
  tmux.sh("send-keys -t t 'Why?' Enter");
  REQUIRE(tmux.wait_for(prompt_after("> Why?")));
  // The reasoning in dim (SGR 2), no header lines on a terminal.
  const std::string painted = tmux.screen(true);
  CHECK_THAT(painted, Catch::Contains("\x1b[2m"));
  CHECK_THAT(tmux.screen(), !Catch::Contains("[thinking]"));
  tmux.sh("send-keys -t t C-c");
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (test::read_file(done).empty() && std::chrono::steady_clock::now() < end)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(test::read_file(done) == "EXIT=0\n");
  std::remove(done.c_str());
}
