// A session is one conversation with a model: it owns its KV cache and its
// executor (threads, buffers), so several sessions can share one Model.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backend.h"
#include "model/graph.h"
#include "model/model.h"
#include "sampling/sampler.h"

namespace edgerun {

struct SessionOptions {
  int n_ctx = 4096;    // not the training length: that can be 128k and exhaust memory
  int n_threads = 0;        // generation; 0: physical cores, at most the CPUs allowed
  int n_threads_batch = 0;  // prompt batches; 0: the same as n_threads
  int n_batch = 512;   // prompt tokens evaluated per forward call
  KVType kv_type = KVType::F16;  // keys, and values unless kv_type_v is set; f16 as llama.cpp
  std::optional<KVType> kv_type_v;
  KVType type_k() const { return kv_type; }
  KVType type_v() const { return kv_type_v.value_or(kv_type); }
  // At a full context, keep the first n_keep tokens, drop half of the rest
  // and go on (generate()); -1: stop when the context is full.
  int n_keep = -1;
};

struct GenerateStats {
  int n_prompt = 0;
  int n_generated = 0;
  bool stopped_at_eog = false;
  bool context_full = false;  // stopped because the next token had no room in the context
  int n_shifts = 0;           // context shifts (SessionOptions::n_keep)
  int n_dropped = 0;          // tokens they dropped
  double prompt_seconds = 0;
  double gen_seconds = 0;
};

// What sessions compute with: an executor per model backend (threads,
// buffers). Sessions made on one Compute can be evaluated together in one
// forward pass (Session::evaluate_together); one thread at a time uses it.
class Compute {
 public:
  // Threads as in SessionOptions (0: physical cores, at most the CPUs allowed).
  Compute(const Model& model, int n_threads, int n_threads_batch);
  const Model& model() const { return model_; }
  ForwardState& state() { return state_; }

 private:
  const Model& model_;
  ForwardState state_;
};

class Session {
 public:
  // A session with its own Compute, made from opts' threads. Throws Error.
  Session(const Model& model, const SessionOptions& opts);
  // A session on a shared Compute (opts' threads are not used).
  Session(std::shared_ptr<Compute> compute, const SessionOptions& opts);
  ~Session();

  const Model& model() const { return model_; }
  int n_ctx() const { return n_ctx_; }
  // Every token of the session, in order. The first n_past() are in the KV
  // cache; the token generate() sampled last waits there until the next eval,
  // which evaluates it first, so a conversation continues without a gap.
  const std::vector<int32_t>& tokens() const { return tokens_; }
  int n_past() const { return n_past_; }
  // Keeps the first n tokens and forgets the rest (their KV cells are simply
  // overwritten later). Throws Error when n is more than the session holds.
  void truncate(int n);
  void reset() { truncate(0); }
  // Context shift: keeps the first n_keep tokens, drops n_drop after them and
  // moves the rest down, rotating their cached keys to the new positions
  // (backends that cannot do that on the device evaluate them again). Only
  // cached tokens are dropped. Throws Error when they are not that many.
  void shift(int n_keep, int n_drop);

  // Appends tokens and evaluates them (after any waiting token). Returns the
  // logits of every token given (all_logits) or of the last one. Throws Error
  // when the context would overflow or an id is outside the vocabulary.
  std::vector<float> eval(const std::vector<int32_t>& tokens, bool all_logits = false);

  // Appends tokens without evaluating them, checked as eval() checks them;
  // the next eval() or evaluate_together() runs them.
  void append(const std::vector<int32_t>& tokens);
  int n_waiting() const { return static_cast<int>(tokens_.size()) - n_past_; }

  // One session's part of a shared forward pass: up to max_tokens of its waiting tokens.
  struct Step {
    Session* session = nullptr;
    int max_tokens = 1;
  };
  // Evaluates every step's tokens in one forward pass (each weight read once
  // for all). The sessions must share one Compute. Returns, per step, the
  // logits of its last token when that evaluated all it had waiting, else an
  // empty vector. The logits are those each session would get alone.
  static std::vector<std::vector<float>> evaluate_together(const std::vector<Step>& steps);

  // Feeds the prompt, then samples up to n_predict tokens, calling on_token for
  // each; stops early at any end-of-generation token (which stays in tokens()),
  // when on_token returns false, or when the context is full.
  GenerateStats generate(const std::vector<int32_t>& prompt, Sampler& sampler, int n_predict,
                         const std::function<bool(int32_t)>& on_token);

  // Bytes the KV cache takes for n_ctx positions.
  static size_t kv_bytes(const HParams& hp, int n_ctx, KVType k, KVType v);
  static size_t kv_bytes(const HParams& hp, int n_ctx, KVType type) { return kv_bytes(hp, n_ctx, type, type); }

 private:
  // Evaluates tokens_[n_past_, end): the logits of the last n_rows of them.
  std::vector<float> evaluate_waiting(int n_rows);

  void check_appendable(const std::vector<int32_t>& tokens) const;

  // Room for one more token: at a full context, shifts it when n_keep_ allows.
  bool make_room(GenerateStats& st);

  const Model& model_;
  int n_ctx_;
  int n_batch_;
  int n_keep_;
  std::vector<int32_t> tokens_;
  int n_past_ = 0;  // tokens_[0, n_past_) are in the KV cache
  std::shared_ptr<Compute> compute_;
  SequenceCache cache_;
};

// Physical cores (performance cores on hybrid CPUs when they can be told apart).
int default_thread_count();
// The same, read from a sysfs tree (tests give a fake one) for n_cpu logical CPUs.
int performance_core_count(const std::string& sysfs_root, int n_cpu);

}  // namespace edgerun
