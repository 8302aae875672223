#include "session/session.h"

#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <set>
#include <thread>

#include "common/error.h"
#include "common/log.h"
#include "model/graph.h"

namespace edgerun {

namespace {
double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

namespace {
// "0-3,8,10-11" -> {0,1,2,3,8,10,11}
std::set<int> parse_cpu_list(const std::string& s) {
  std::set<int> out;
  size_t i = 0;
  while (i < s.size()) {
    size_t end = s.find(',', i);
    if (end == std::string::npos) end = s.size();
    const std::string part = s.substr(i, end - i);
    int a = -1, b = -1;
    if (std::sscanf(part.c_str(), "%d-%d", &a, &b) == 2) {
      for (int c = a; c <= b && c - a < 4096; ++c) out.insert(c);
    } else if (std::sscanf(part.c_str(), "%d", &a) == 1) {
      out.insert(a);
    }
    i = end + 1;
  }
  return out;
}

template <typename T>
bool read_value(const std::string& path, T* v) {
  std::ifstream f(path);
  return static_cast<bool>(f >> *v);
}
}  // namespace

int performance_core_count(const std::string& sysfs, int n_cpu) {
  const std::string cpu_dir = sysfs + "/devices/system/cpu/cpu";
  // Which logical CPUs are performance cores: Intel hybrid parts list them in
  // devices/cpu_core; ARM big.LITTLE gives the big ones the highest cpu_capacity.
  std::set<int> big;
  std::string list;
  if (std::ifstream f(sysfs + "/devices/cpu_core/cpus"); f && std::getline(f, list)) big = parse_cpu_list(list);
  if (big.empty()) {
    int best = -1;
    for (int c = 0; c < n_cpu; ++c) {
      int cap = 0;
      if (!read_value(cpu_dir + std::to_string(c) + "/cpu_capacity", &cap)) continue;
      if (cap > best) best = cap, big.clear();
      if (cap == best) big.insert(c);
    }
  }
  // Distinct (package, core) pairs among them: hyper-threads share a core's units.
  std::set<std::pair<int, int>> cores;
  for (int c = 0; c < n_cpu; ++c) {
    if (!big.empty() && !big.count(c)) continue;
    int p = -1, id = -1;
    const std::string topo = cpu_dir + std::to_string(c) + "/topology/";
    if (!read_value(topo + "physical_package_id", &p) || !read_value(topo + "core_id", &id)) return n_cpu;
    cores.insert({p, id});
  }
  return cores.empty() ? n_cpu : static_cast<int>(cores.size());
}

int default_thread_count() {
  const int cores = performance_core_count("/sys", static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  // No more than the CPUs this process may run on (taskset, a container's
  // cpuset): a spinning pool larger than that waits on itself.
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (::sched_getaffinity(0, sizeof allowed, &allowed) == 0 && CPU_COUNT(&allowed) > 0)
    return std::min(cores, CPU_COUNT(&allowed));
  return cores;
}

size_t Session::kv_bytes(const HParams& hp, int n_ctx, KVType k, KVType v) {
  return static_cast<size_t>(hp.n_layer) * n_ctx * (kv_row_bytes(k, hp.kv_dim()) + kv_row_bytes(v, hp.kv_dim()));
}

namespace {
// A pool of spinning threads larger than the CPU only waits for it; far
// larger is a typo (-t 1024) that would look like a hang.
void check_thread_count(const char* what, int n) {
  const int hw = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (n > 2 * hw)
    fail(what, std::to_string(n) + " is more than twice the " + std::to_string(hw) +
                   " threads this machine runs at once (a larger pool only waits for the CPU)");
}

// Logits that are not numbers would be sampled into garbage: damaged weights
// or an overflow are reported where they appear.
void check_finite(const float* logits, size_t n_rows, size_t n_vocab, int first_pos) {
  for (size_t r = 0; r < n_rows; ++r) {
    const float* row = logits + r * n_vocab;
    float probe = 0.0f;  // x * 0 is NaN exactly for NaN and infinities
    for (size_t i = 0; i < n_vocab; ++i) probe += row[i] * 0.0f;
    if (probe != 0.0f)
      fail("", "the model computed logits that are not finite numbers (NaN or infinity) at position " +
                   std::to_string(first_pos + static_cast<int>(r)) + ": its weights are damaged or its numbers overflow");
  }
}
}  // namespace

Compute::Compute(const Model& model, int n_threads, int n_threads_batch) : model_(model) {
  check_thread_count("threads", n_threads);
  check_thread_count("batch threads", n_threads_batch);
  ExecutorOptions eo;
  eo.n_threads = n_threads > 0 ? n_threads : default_thread_count();
  eo.n_threads_batch = n_threads_batch > 0 ? n_threads_batch : eo.n_threads;
  for (int b = 0; b < model.n_backends(); ++b) state_.ex.push_back(model.backend(b).make_executor(eo));
  state_.scratch.resize(model.n_backends());
}

Session::Session(const Model& model, const SessionOptions& opts)
    : Session(std::make_shared<Compute>(model, opts.n_threads, opts.n_threads_batch), opts) {}

Session::Session(std::shared_ptr<Compute> compute, const SessionOptions& opts)
    : model_(compute->model()), n_ctx_(opts.n_ctx), n_batch_(opts.n_batch), n_keep_(opts.n_keep), compute_(std::move(compute)) {
  if (n_ctx_ < 1 || n_ctx_ > (1 << 24)) fail("context size", "must be between 1 and 16777216, got " + std::to_string(n_ctx_));
  if (n_batch_ < 1) fail("batch size", "must be positive, got " + std::to_string(n_batch_));
  ForwardState& st = compute_->state();
  const HParams& hp = model_.hparams();
  for (KVType t : {opts.type_k(), opts.type_v()}) {
    for (int b = 0; b < model_.n_backends(); ++b)
      if (!model_.backend(b).supports_kv(t))
        fail("KV cache type", std::string(kv_type_name(t)) + " is not supported by the " + model_.backend(b).name() +
                                  " backend (it keeps f32 or f16)", ErrorKind::Unsupported);
    if (kv_quantized(t) && hp.head_dim % 32 != 0)
      fail("KV cache type", std::string(kv_type_name(t)) + " needs a head size that is a multiple of 32; this model's is " +
                                std::to_string(hp.head_dim), ErrorKind::Unsupported);
  }
  for (int b = 0; b < model_.n_backends(); ++b)
    cache_.kv.push_back(st.ex[b]->alloc_kv(model_.layers_on(b), n_ctx_, hp.n_head_kv, hp.head_dim, opts.type_k(), opts.type_v()));
}

Session::~Session() = default;

void Session::truncate(int n) {
  if (n < 0 || n > static_cast<int>(tokens_.size()))
    fail("", "cannot keep " + std::to_string(n) + " tokens: the session holds " + std::to_string(tokens_.size()));
  tokens_.resize(n);
  n_past_ = std::min(n_past_, n);
}

void Session::shift(int n_keep, int n_drop) {
  if (n_keep < 0 || n_drop < 1 || n_keep + n_drop > n_past_)
    fail("", "cannot drop " + std::to_string(n_drop) + " tokens after the first " + std::to_string(n_keep) + ": the cache holds " +
                 std::to_string(n_past_));
  const HParams& hp = model_.hparams();
  const int from = n_keep + n_drop, n_move = n_past_ - from;
  bool shifted = true;
  for (auto& kv : cache_.kv) {
    try {
      compute_->state().ex[&kv - cache_.kv.data()]->kv_shift(*kv, from, n_keep, n_move, model_.rope(), hp.n_head_kv, hp.head_dim);
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::Unsupported) throw;
      shifted = false;
    }
  }
  tokens_.erase(tokens_.begin() + n_keep, tokens_.begin() + from);
  // Where a backend could not move its part, the moved tokens are evaluated again.
  n_past_ = shifted ? n_past_ - n_drop : n_keep;
}

bool Session::make_room(GenerateStats& st) {
  if (tokens_.size() < static_cast<size_t>(n_ctx_)) return true;
  // A beginning-of-sequence token stays, as llama.cpp keeps it: models expect it first.
  const bool bos_first = !tokens_.empty() && tokens_[0] == model_.tokenizer().bos() && model_.tokenizer().add_bos();
  const int keep = std::min(std::max(n_keep_, bos_first ? 1 : 0), n_past_);
  const int n_drop = (n_past_ - keep) / 2;
  if (n_keep_ < 0 || n_drop < 1) {
    st.context_full = true;
    return false;
  }
  shift(keep, n_drop);
  ++st.n_shifts;
  st.n_dropped += n_drop;
  log_message(LogLevel::Info, "context full (" + std::to_string(n_ctx_) + " tokens): kept the first " + std::to_string(keep) +
                                  ", dropped the next " + std::to_string(n_drop) + ", going on");
  return true;
}

void Session::check_appendable(const std::vector<int32_t>& tokens) const {
  if (tokens_.size() + tokens.size() > static_cast<size_t>(n_ctx_))
    fail("", "context is full: " + std::to_string(tokens_.size()) + " + " + std::to_string(tokens.size()) +
                 " tokens do not fit the context size " + std::to_string(n_ctx_), ErrorKind::ContextFull);
  const int n_vocab = model_.hparams().n_vocab;
  for (int32_t t : tokens)
    if (t < 0 || t >= n_vocab)
      fail("", "token id " + std::to_string(t) + " is outside the vocabulary (0.." + std::to_string(n_vocab - 1) + ")");
}

std::vector<float> Session::eval(const std::vector<int32_t>& tokens, bool all_logits) {
  if (tokens.empty()) fail("", "nothing to evaluate (no tokens)");
  check_appendable(tokens);
  tokens_.insert(tokens_.end(), tokens.begin(), tokens.end());
  return evaluate_waiting(all_logits ? static_cast<int>(tokens.size()) : 1);
}

void Session::append(const std::vector<int32_t>& tokens) {
  check_appendable(tokens);
  tokens_.insert(tokens_.end(), tokens.begin(), tokens.end());
}

std::vector<std::vector<float>> Session::evaluate_together(const std::vector<Step>& steps) {
  std::vector<std::vector<float>> out(steps.size());
  if (steps.empty()) return out;
  Compute* compute = steps[0].session->compute_.get();
  std::vector<SequenceBatch> batch;
  std::vector<size_t> owner;  // which step each sequence batch belongs to
  for (size_t i = 0; i < steps.size(); ++i) {
    Session& s = *steps[i].session;
    if (s.compute_.get() != compute) fail("", "sessions evaluated together must share one Compute");
    for (size_t j = 0; j < i; ++j)
      if (steps[j].session == &s) fail("", "a session appears twice in one forward pass");
    const int n = std::min(steps[i].max_tokens, s.n_waiting());
    if (n < 1) continue;
    batch.push_back({s.tokens_.data() + s.n_past_, n, s.n_past_, &s.cache_, false});
    owner.push_back(i);
  }
  if (batch.empty()) return out;
  const std::vector<float> logits = forward(compute->model(), compute->state(), batch);
  const size_t n_vocab = static_cast<size_t>(compute->model().hparams().n_vocab);
  for (size_t b = 0; b < batch.size(); ++b) {
    Session& s = *steps[owner[b]].session;
    s.n_past_ += batch[b].n;
    if (s.n_waiting() == 0) {
      out[owner[b]].assign(logits.begin() + b * n_vocab, logits.begin() + (b + 1) * n_vocab);
      check_finite(out[owner[b]].data(), 1, n_vocab, s.n_past_ - 1);
    }
  }
  return out;
}

std::vector<float> Session::evaluate_waiting(int n_rows) {
  const int n_vocab = model_.hparams().n_vocab;
  const int end = static_cast<int>(tokens_.size());
  const int first_row = end - n_rows;
  std::vector<float> out;
  while (n_past_ < end) {
    const int n = std::min(n_batch_, end - n_past_);
    // Logits are computed for every token of a batch only when some are wanted.
    const bool want_all = n_rows > 1 && n_past_ + n > first_row;
    auto logits = forward(model_, compute_->state(), cache_, tokens_.data() + n_past_, n, n_past_, want_all);
    if (want_all) {
      const int skip = std::max(0, first_row - n_past_);
      out.insert(out.end(), logits.begin() + static_cast<size_t>(skip) * n_vocab, logits.end());
    } else if (n_past_ + n == end) {
      out = std::move(logits);
    }
    n_past_ += n;
  }
  if (!out.empty()) check_finite(out.data(), out.size() / n_vocab, n_vocab, end - static_cast<int>(out.size() / n_vocab));
  return out;
}

GenerateStats Session::generate(const std::vector<int32_t>& prompt, Sampler& sampler, int n_predict,
                                const std::function<bool(int32_t)>& on_token) {
  GenerateStats st;
  st.n_prompt = static_cast<int>(prompt.size());
  if (prompt.empty()) fail("", "the prompt has no tokens");
  if (tokens_.size() + prompt.size() > static_cast<size_t>(n_ctx_))
    fail("", "the prompt has " + std::to_string(st.n_prompt) + " tokens, more than " +
                 (tokens_.empty() ? "the context size " + std::to_string(n_ctx_)
                                  : "the " + std::to_string(n_ctx_ - tokens_.size()) + " left in the context (size " +
                                        std::to_string(n_ctx_) + ")"),
         ErrorKind::ContextFull);
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<float> logits = eval(prompt);
  st.prompt_seconds = seconds_since(t0);
  for (int32_t t : prompt) sampler.accept(t);

  const auto t1 = std::chrono::steady_clock::now();
  const Tokenizer& tok = model_.tokenizer();
  const int n_vocab = model_.hparams().n_vocab;
  while (st.n_generated < n_predict) {
    if (!make_room(st)) break;
    const int32_t id = sampler.sample(logits.data(), n_vocab);
    sampler.accept(id);
    tokens_.push_back(id);  // evaluated by the next forward pass, here or in the next eval
    if (tok.is_eog(id)) {
      st.stopped_at_eog = true;
      break;
    }
    ++st.n_generated;
    if (!on_token(id) || st.n_generated == n_predict) break;
    if (!make_room(st)) break;
    logits = evaluate_waiting(1);
  }
  st.gen_seconds = seconds_since(t1);
  return st;
}

}  // namespace edgerun
