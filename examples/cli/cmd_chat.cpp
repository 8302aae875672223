// edgerun chat: a conversation in the terminal, through the library's Chat.
// On a terminal: line editing and history (libedit), Ctrl-C stops an answer,
// a second Ctrl-C or Ctrl-D leaves. Otherwise one turn per input line.
#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <memory>
#include <poll.h>
#include <string>
#include <unistd.h>

#include "chat_output.h"
#include "commands.h"
#include "common/files.h"

#ifdef EDGERUN_WITH_LIBEDIT
#include <editline/readline.h>
#endif

namespace edgerun::cli {

namespace {
struct ChatCliOptions {
  EvalOptions eval;
  SamplingOptions sampling;
  std::string system;
  std::string reasoning = "show";
  bool no_think = false;
  int reasoning_budget = -1;
  int n_predict = -1;
  std::string template_file;
  bool verbose = false;
  bool ignore_eos = false;
};

// Ctrl-C: stops the answer being generated; at the prompt, leaves.
std::atomic<Chat*> g_chat{nullptr};
std::atomic<bool> g_generating{false};
std::atomic<bool> g_quit{false};

extern "C" void on_sigint(int) {
  if (g_generating.load()) {
    if (Chat* c = g_chat.load()) c->cancel();
  } else {
    g_quit.store(true);
  }
}

class LineReader {
 public:
  explicit LineReader(bool terminal) : terminal_(terminal) {}
  // One line without its newline; false at the end of input (or Ctrl-C at the prompt).
  bool read(const char* prompt, std::string& line) {
    if (g_quit.load()) return false;
#ifdef EDGERUN_WITH_LIBEDIT
    if (terminal_) {
      char* s = readline(prompt);
      if (!s || g_quit.load()) {
        std::free(s);
        return false;
      }
      line = s;
      std::free(s);
      if (!line.empty()) add_history(line.c_str());
      return true;
    }
#endif
    if (terminal_) {
      std::fputs(prompt, stdout);
      std::fflush(stdout);
    }
    if (!std::getline(std::cin, line)) return false;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return !g_quit.load();
  }
  // A paste arrives faster than anyone types: lines already waiting join the message.
  bool more_waiting() const {
    if (!terminal_) return false;
    pollfd p{STDIN_FILENO, POLLIN, 0};
    return ::poll(&p, 1, 30) > 0 && (p.revents & POLLIN);
  }

 private:
  bool terminal_;
};

const char* kHelp =
    "/clear          forget the conversation (the system prompt stays)\n"
    "/system TEXT    set the system prompt\n"
    "/save FILE      save the conversation as JSON messages\n"
    "/load FILE      load a conversation saved with /save\n"
    "/help           this list\n"
    "/exit           leave (Ctrl-D too)\n"
    "A line ending in \\ continues on the next line. Ctrl-C stops an answer.\n";

// Runs a /command; false when it asks to leave.
bool command(Chat& chat, const std::string& line) {
  const size_t sp = line.find(' ');
  const std::string name = line.substr(0, sp);
  std::string arg = sp == std::string::npos ? "" : line.substr(sp + 1);
  while (!arg.empty() && arg.back() == ' ') arg.pop_back();
  if (name == "/exit" || name == "/quit") return false;
  if (name == "/help") {
    std::fputs(kHelp, stdout);
  } else if (name == "/clear") {
    chat.clear();
    std::fputs("(conversation cleared)\n", stdout);
  } else if (name == "/system") {
    chat.set_system(arg);
    std::fputs(arg.empty() ? "(system prompt removed)\n" : "(system prompt set)\n", stdout);
  } else if (name == "/save" || name == "/load") {
    if (arg.empty()) {
      std::fprintf(stderr, "edgerun: %s needs a file name\n", name.c_str());
    } else if (name == "/save") {
      const std::string json = chat.to_json() + "\n";
      write_file_atomically(arg, json.data(), json.size());
      std::printf("(saved %zu messages to %s)\n", chat.messages().size(), arg.c_str());
    } else {
      chat.set_messages(Chat::from_json(read_file(arg), arg));
      std::printf("(loaded %zu messages from %s)\n", chat.messages().size(), arg.c_str());
    }
  } else {
    std::fprintf(stderr, "edgerun: unknown command %s (/help lists them)\n", name.c_str());
  }
  std::fflush(stdout);
  return true;
}

void chat_loop(const ChatCliOptions& o) {
  const bool terminal = ::isatty(STDIN_FILENO) && ::isatty(STDOUT_FILENO);
  auto model = load_model(o.eval.model, o.eval.load());
  if (!model) throw Error(model.message());
  if ((*model)->tokenizer().chat_template().empty() && o.template_file.empty())
    fail(o.eval.model, "the model has no chat template, so `chat` cannot talk to it; `edgerun run -p TEXT` completes plain text "
                       "(or give a template with --chat-template-file)");
  o.eval.check_kv(**model);
  auto session = new_session(**model, o.eval.session());
  if (!session) throw Error(session.message());
  ChatOptions co;
  if (o.no_think) co.enable_thinking = false;
  if (!o.template_file.empty()) co.chat_template = read_file(o.template_file);
  Chat chat(**session, co);
  chat.set_system(o.system);

  TurnParams tp;
  std::string origin;
  tp.sampling = o.sampling.resolve(**model, &origin);
  tp.max_tokens = o.n_predict;
  tp.reasoning_budget = o.reasoning_budget;
  tp.ignore_eog = o.ignore_eos;
  if (o.verbose) {
    std::fprintf(stderr, "edgerun: %s, backend %s, context %d, sampling: %s%s\n", (*model)->hparams().arch.c_str(),
                 (*model)->backend_summary().c_str(), (*session)->n_ctx(), origin.c_str(),
                 chat.reasoning() ? "; a thinking model" : "");
  }
  PieceWriter writer(parse_reasoning_mode(o.reasoning), terminal && std::getenv("NO_COLOR") == nullptr, stdout);
  if (terminal) std::fputs("edgerun chat: /help for commands, Ctrl-D to leave.\n", stdout);

  g_chat.store(&chat);
  struct sigaction sa {};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);

  LineReader reader(terminal);
  int turn = 0;
  std::string line;
  while (reader.read("> ", line)) {
    std::string message = line;
    // A trailing backslash continues the message; so do lines of a paste.
    while (true) {
      if (!message.empty() && message.back() == '\\') {
        message.back() = '\n';
        if (!reader.read("… ", line)) break;
        message += line;
      } else if (reader.more_waiting()) {
        if (!reader.read("", line)) break;
        message += "\n" + line;
      } else {
        break;
      }
    }
    if (message.find_first_not_of(" \t\n") == std::string::npos) continue;
    try {
      if (message[0] == '/') {
        if (!command(chat, message)) break;
        continue;
      }
      chat.add("user", message);
      ++turn;
      g_generating.store(true);
      const TurnStats st = chat.respond(tp, [&](const Piece& p) {
        writer.write(p);
        return true;
      });
      g_generating.store(false);
      writer.finish();
      if (st.n_dropped > 0)
        std::fprintf(stderr, "edgerun: the conversation outgrew the context (%d tokens): dropped its %d oldest messages\n",
                     (*session)->n_ctx(), st.n_dropped);
      if (st.finish_reason == "cancelled") std::fputs("(stopped)\n", stdout);
      if (o.verbose) std::fprintf(stderr, "edgerun: turn %d: %s\n", turn, describe_turn(st).c_str());
    } catch (const Error& e) {
      g_generating.store(false);
      writer.abandon();
      std::fprintf(stderr, "edgerun: %s\n", e.what());
    }
    std::fflush(stdout);
    g_quit.store(false);
  }
  if (terminal) std::fputs("\n", stdout);
  g_chat.store(nullptr);
}
}  // namespace

void add_chat(CLI::App& app) {
  auto o = std::make_shared<ChatCliOptions>();
  CLI::App* sub = app.add_subcommand("chat", "talk to a model with its own chat template");
  o->eval.add_to(*sub);
  o->sampling.add_to(*sub);
  sub->add_option("--system", o->system, "system prompt");
  sub->add_option("--reasoning", o->reasoning, "thinking models' reasoning: show (apart), hide, or raw (as written)")
      ->check(CLI::IsMember({"show", "hide", "raw"}));
  sub->add_flag("--no-think", o->no_think, "ask the template not to think (enable_thinking false, where it has it)");
  sub->add_option("--reasoning-budget", o->reasoning_budget, "close the reasoning after N tokens (-1: no limit)")
      ->check(CLI::Range(-1, 1 << 24));
  sub->add_option("-n,--n-predict", o->n_predict, "most tokens per answer (-1: until the end of the turn or a full context)")
      ->check(CLI::Range(-1, 1 << 24));
  sub->add_option("--chat-template-file", o->template_file, "a Jinja chat template to use instead of the model's");
  sub->add_flag("--ignore-eos", o->ignore_eos, "never end an answer at an end-of-generation token (with -n: answers of exactly N tokens)");
  sub->add_flag("-v,--verbose", o->verbose, "say where the settings came from and what each turn evaluated");
  sub->callback([o] { chat_loop(*o); });
}

}  // namespace edgerun::cli
