// Continuous batching: several requests generated at once, their next tokens
// (and the prompt chunks of requests just admitted) run through one forward
// pass, so each weight is read once per step for all of them. Requests wait in
// a bounded queue for a free slot; a slot keeps what it evaluated, so a request
// that continues a conversation reuses it (the slot holding the longest common
// prefix is chosen). The server is a thin client of this.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "runtime/chat_format.h"
#include "runtime/reasoning.h"
#include "sampling/sampler.h"
#include "session/session.h"

namespace edgerun {

struct SchedulerOptions {
  int n_slots = 4;
  int n_ctx = 4096;         // per slot: the longest conversation one request can have
  int n_batch = 512;        // tokens in one forward pass, all slots together
  int n_threads = 0;        // as SessionOptions
  int n_threads_batch = 0;
  KVType kv_type = KVType::F16;  // keys, and values unless kv_type_v is set
  std::optional<KVType> kv_type_v;
  int max_queue = 64;       // requests waiting for a slot; one more is refused (ErrorKind::Busy)
  std::string chat_template;             // instead of the model's own
  std::optional<bool> enable_thinking;   // the template's enable_thinking
};

struct GenerationRequest {
  bool chat = true;                   // messages rendered with the chat template; else `prompt` as it is
  std::vector<ChatMessage> messages;
  std::string prompt;
  SamplerParams sampling;
  int max_tokens = -1;                // -1: until the slot's context is full
  std::vector<std::string> stop;      // stop strings on the answer's text
  double max_seconds = 0;             // > 0: generation ends ("length") after this long
};

struct GenerationResult {
  std::string content, reasoning;
  std::string finish_reason;  // "stop", "length", "cancelled", "error"
  std::string error;          // for "error"
  int slot = -1;
  int n_prompt = 0, n_cached = 0, n_generated = 0;
  double queue_seconds = 0, first_token_seconds = 0, total_seconds = 0;
};

struct RequestEvent {
  bool done = false;  // the last event: result is set
  Piece piece{PieceKind::Content, ""};
  GenerationResult result;
};

// What a submitter holds: events arrive here from the scheduler's thread.
class RequestHandle {
 public:
  uint64_t id() const { return id_; }
  int n_prompt() const { return n_prompt_; }
  // Waits up to `timeout` for the next event; false when none came.
  bool next(RequestEvent& event, std::chrono::milliseconds timeout);
  // Ends the request at the next step (finish_reason "cancelled"); any thread.
  void cancel() { cancelled_.store(true); }
  bool cancelled() const { return cancelled_.load(); }

 private:
  friend class Scheduler;
  void push(RequestEvent event);

  uint64_t id_ = 0;
  int n_prompt_ = 0;
  std::atomic<bool> cancelled_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<RequestEvent> events_;
};

struct SchedulerMetrics {
  int slots = 0, busy_slots = 0, queued = 0;
  uint64_t requests = 0, prompt_tokens = 0, cached_tokens = 0, generated_tokens = 0, forward_passes = 0;
};

class Scheduler {
 public:
  // Makes the slots' KV caches and starts the scheduling thread. Throws Error.
  Scheduler(const Model& model, const SchedulerOptions& opts);
  ~Scheduler();  // ends every request ("cancelled") and joins the thread

  // Renders and tokenizes the request, then queues it. Throws Error for bad
  // messages, a prompt that does not fit a slot's context (ErrorKind::ContextFull)
  // and a full queue (ErrorKind::Busy).
  std::shared_ptr<RequestHandle> submit(GenerationRequest request);
  // Ends every request, running or queued, at the next step ("cancelled").
  void cancel_all();
  SchedulerMetrics metrics() const;
  const SchedulerOptions& options() const { return opts_; }
  const ChatFormat* chat_format() const { return format_.get(); }  // null: the model has no chat template

 private:
  struct Pending;
  struct Slot;
  void run();
  void admit_locked();
  void start(Slot& slot, Pending& p);
  void step();
  void sample_next(Slot& slot, const std::vector<float>& logits);
  void finish(Slot& slot, const std::string& reason, const std::string& error = "");

  const Model& model_;
  SchedulerOptions opts_;
  std::unique_ptr<ChatFormat> format_;
  std::shared_ptr<Compute> compute_;
  std::vector<std::unique_ptr<Slot>> slots_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Pending>> queue_;
  std::vector<std::shared_ptr<RequestHandle>> running_;  // the handles the slots hold, for cancel_all
  bool stop_ = false;
  uint64_t next_id_ = 1;
  uint64_t uses_ = 0;  // the scheduler thread's count of slot starts
  std::atomic<int> busy_{0};
  std::atomic<uint64_t> requests_{0}, prompt_tokens_{0}, cached_tokens_{0}, generated_tokens_{0}, passes_{0};
  std::thread thread_;
};

}  // namespace edgerun
