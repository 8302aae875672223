// edgerun bench: prompt processing (pp) and text generation (tg) speed in a
// table shaped like llama-bench's; or, with --tokenizer, tokenizer speed.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>

#include "commands.h"
#include "common/files.h"
#include "model/source.h"
#include "quant.h"

namespace edgerun::cli {

namespace {
struct BenchOptions {
  std::string model, tokenizer_json, text_file;
  std::string threads = "0";
  int n_prompt = 512, n_gen = 128, reps = 5;
  std::string kv_type = "f16", cache_type_k, cache_type_v;
  std::string depths = "0";  // "0,4096": tests after that many tokens of context (llama-bench's -d)
  std::string backend = "auto";
  int device = -1, gpu_layers = -1;
  bool json = false;
  std::string parallel;  // "1,2,4,8": streams decoded together (llama-batched-bench's -npl)
  bool tokenize = false;
  bool quant = false;
  std::string tensor = "blk.0.ffn_down.weight";
};

KVType kv_named(const std::string& s, const char* flag) {
  KVType t = KVType::F16;
  if (!parse_kv_type(s, &t)) fail(flag, "unknown KV cache type '" + s + "' (f32, f16, q8_0, q4_0)");
  return t;
}
KVType kv_k(const BenchOptions& o) { return kv_named(o.cache_type_k.empty() ? o.kv_type : o.cache_type_k, "-ctk"); }
KVType kv_v(const BenchOptions& o) { return kv_named(o.cache_type_v.empty() ? o.kv_type : o.cache_type_v, "-ctv"); }

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

struct Stat {
  double mean = 0, sd = 0;
  std::vector<double> samples;
};
Stat stats(std::vector<double> v) {
  Stat s;
  s.samples = v;
  for (double x : v) s.mean += x / v.size();
  for (double x : v) s.sd += (x - s.mean) * (x - s.mean);
  s.sd = v.size() > 1 ? std::sqrt(s.sd / (v.size() - 1)) : 0;
  return s;
}
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// "1,2,4": counts between lo and 1024; `flag` names them in errors.
std::vector<int> parse_counts(const std::string& s, const char* flag, int lo, int hi = 1024) {
  std::vector<int> out;
  size_t i = 0;
  while (i <= s.size()) {
    const size_t e = std::min(s.find(',', i), s.size());
    try {
      size_t used = 0;
      const int t = std::stoi(s.substr(i, e - i), &used);
      if (t < lo || t > hi || used != e - i) throw std::out_of_range(flag);
      out.push_back(t);
    } catch (const std::exception&) {
      fail(flag, "'" + s.substr(i, e - i) + "' is not a count from " + std::to_string(lo) + " to " + std::to_string(hi));
    }
    i = e + 1;
  }
  return out;
}

std::vector<int> parse_threads(const std::string& s) {
  std::vector<int> out = parse_counts(s, "-t", 0);
  for (int& t : out)
    if (t == 0) t = default_thread_count();
  return out;
}

void bench_tokenizer(const BenchOptions& o) {
  std::vector<double> load_ms;
  std::unique_ptr<Tokenizer> tok;
  for (int r = 0; r < o.reps; ++r) {
    const auto t0 = Clock::now();
    if (!o.tokenizer_json.empty()) {
      tok = Tokenizer::from_hf_file(o.tokenizer_json);
    } else {
      tok = open_model_source(o.model)->make_tokenizer();
    }
    load_ms.push_back(since(t0) * 1e3);
  }
  std::string text;
  if (!o.text_file.empty()) {
    text = read_file(o.text_file);
  } else {
    // A mixed sample: English, code, numbers, CJK, emoji, other scripts.
    const std::string sample =
        "The quick brown fox jumps over the lazy dog. It's 2026 and I'll pay $1,234.56!\n"
        "def f(x):\n    return x**2  # comment\n\tint main() { return 0; }\n"
        "東京は日本の首都です。北京欢迎你。 서울은 한국의 수도입니다. 🚀🎉👨‍👩‍👧 "
        "Привет, мир! Γειά σου Κόσμε. مرحبا بالعالم. naïve café — résumé.\n\n";
    while (text.size() < (1u << 20)) text += sample;
  }
  std::vector<double> mbps;
  size_t n_tokens = 0;
  for (int r = 0; r < o.reps; ++r) {
    const auto t0 = Clock::now();
    n_tokens = tok->encode(text, false).size();
    mbps.push_back(text.size() / 1e6 / since(t0));
  }
  std::printf("vocabulary %d tokens: load %.1f ms (median of %d; first %.1f ms)\n", tok->vocab_size(), median(load_ms),
              o.reps, load_ms[0]);
  std::printf("tokenize %.2f MB -> %zu tokens: %.2f MB/s (median of %d, one thread)\n", text.size() / 1e6, n_tokens,
              median(mbps), o.reps);
}

// Bits per weight, relative RMSE and quantization speed of every type, on one
// real-shaped matrix: a model's tensor (-m), or random normal weights.
void bench_quant(const BenchOptions& o) {
  std::vector<float> w;
  int64_t row = 8960, rows = 1536;  // the ffn_down shape of DeepSeek-R1-Distill-Qwen-1.5B
  std::string what = "random normal weights, 1536 x 8960";
  if (!o.model.empty()) {
    auto src = open_model_source(o.model);
    const TensorInfo* t = src->find_tensor(o.tensor);
    if (!t) fail(o.model, "no tensor '" + o.tensor + "' (give another with --tensor)");
    row = t->shape[0];
    rows = t->n_elements() / row;
    w.resize(static_cast<size_t>(row * rows));
    dequantize_row(t->type, t->data, w.data(), row * rows);
    what = o.tensor + " of " + o.model + ", " + std::to_string(rows) + " x " + std::to_string(row);
  } else {
    std::mt19937 rng(1);
    std::normal_distribution<float> nd(0.0f, 0.02f);
    w.resize(static_cast<size_t>(row * rows));
    for (auto& x : w) x = nd(rng);
  }
  std::printf("%s\n\n| type | bits per weight | relative RMSE | quantize MB/s (1 thread) |\n| --- | ---: | ---: | ---: |\n", what.c_str());
  for (DType t : {DType::F16, DType::BF16, DType::Q8_0, DType::Q6_K, DType::Q5_1, DType::Q5_K, DType::Q5_0, DType::Q4_1,
                  DType::IQ4_XS, DType::Q4_K, DType::IQ4_NL, DType::Q4_0, DType::Q3_K, DType::Q2_K}) {
    if (row % dtype_traits(t).block_size != 0) continue;
    const QuantOps& ops = quant_ops(t);
    std::vector<uint8_t> q(dtype_row_bytes(t, row) * rows);
    const auto t0 = Clock::now();
    for (int64_t r = 0; r < rows; ++r) ops.quantize(&w[r * row], &q[r * dtype_row_bytes(t, row)], row);
    const double sec = since(t0);
    std::vector<float> back(w.size());
    for (int64_t r = 0; r < rows; ++r) ops.dequantize(&q[r * dtype_row_bytes(t, row)], &back[r * row], row);
    double num = 0, den = 0;
    for (size_t i = 0; i < w.size(); ++i) {
      num += (back[i] - w[i]) * (back[i] - w[i]);
      den += static_cast<double>(w[i]) * w[i];
    }
    std::printf("| %s | %.4f | %.5f | %.0f |\n", dtype_name(t), 8.0 * dtype_traits(t).block_bytes / dtype_traits(t).block_size,
                std::sqrt(num / den), w.size() * 4 / 1e6 / sec);
    std::fflush(stdout);
  }
}

// Several streams at once, as the server runs them: P sessions on one
// Compute, their prompts in one forward pass, then every step one token of
// each (greedy-sampled) in one pass. Rates are for all streams together.
void bench_parallel(const BenchOptions& o, const Model& m, const std::string& model_type, int threads,
                    nlohmann::json& results) {
  const HParams& hp = m.hparams();
  std::mt19937 rng(42);
  std::uniform_int_distribution<int32_t> tok(0, hp.n_vocab - 1);
  for (int streams : parse_counts(o.parallel, "--parallel", 1)) {
    auto compute = std::make_shared<Compute>(m, threads, threads);
    SessionOptions so;
    so.n_ctx = o.n_prompt + o.n_gen + 1;
    so.n_batch = std::max(1, o.n_prompt);
    so.kv_type = kv_k(o);
    so.kv_type_v = kv_v(o);
    std::vector<std::unique_ptr<Session>> ss;
    for (int i = 0; i < streams; ++i) ss.push_back(std::make_unique<Session>(compute, so));
    std::vector<double> pp, tg;
    for (int r = -1; r < o.reps; ++r) {  // r == -1 warms up
      std::vector<Session::Step> steps;
      for (auto& s : ss) {
        s->reset();
        std::vector<int32_t> ids(std::max(1, o.n_prompt));
        for (auto& id : ids) id = tok(rng);
        s->append(ids);
        steps.push_back({s.get(), static_cast<int>(ids.size())});
      }
      auto t0 = Clock::now();
      auto logits = Session::evaluate_together(steps);
      const double pp_sec = since(t0);
      t0 = Clock::now();
      for (int i = 0; i < o.n_gen; ++i) {
        for (size_t k = 0; k < ss.size(); ++k) {
          ss[k]->append({argmax(logits[k].data(), hp.n_vocab)});
          steps[k].max_tokens = 1;
        }
        logits = Session::evaluate_together(steps);
      }
      const double tg_sec = since(t0);
      if (r >= 0) {
        pp.push_back(streams * std::max(1, o.n_prompt) / pp_sec);
        if (o.n_gen > 0) tg.push_back(streams * o.n_gen / tg_sec);
      }
    }
    for (int pass = 0; pass < 2; ++pass) {
      const bool is_pp = pass == 0;
      if (!is_pp && o.n_gen <= 0) continue;
      const Stat st = stats(is_pp ? pp : tg);
      const std::string test = (is_pp ? "pp" + std::to_string(o.n_prompt) : "tg" + std::to_string(o.n_gen)) + " x" + std::to_string(streams);
      if (o.json) {
        results.push_back({{"model_filename", o.model}, {"model_type", model_type}, {"backends", m.backend().name()},
                           {"n_threads", threads}, {"n_parallel", streams}, {"n_prompt", o.n_prompt},
                           {"n_gen", is_pp ? 0 : o.n_gen}, {"test", is_pp ? "pp" : "tg"}, {"avg_ts", st.mean},
                           {"stddev_ts", st.sd}, {"samples_ts", st.samples}, {"type_k", kv_type_name(kv_k(o))}, {"type_v", kv_type_name(kv_v(o))}});
      } else {
        char tps[40];
        std::snprintf(tps, sizeof tps, "%.2f ± %.2f", st.mean, st.sd);
        std::printf("| %-30s | %-11s | %7d | %7d | %11s | %16s |\n", model_type.substr(0, 30).c_str(),
                    m.backend().name().c_str(), threads, streams, test.c_str(), tps);
        std::fflush(stdout);
      }
    }
  }
}

// One backend's rows of the table (or JSON objects).
void bench_backend(const BenchOptions& o, const std::string& backend, nlohmann::json& results) {
  LoadOptions lo{backend, o.device, o.gpu_layers};
  auto model = load_model(o.model, lo);
  if (!model) throw Error(model.message());
  const Model& m = **model;
  const HParams& hp = m.hparams();
  size_t params = 0;
  for (const auto& t : m.source().tensors()) params += static_cast<size_t>(t.n_elements());
  std::string type;
  for (const auto& [name, count] : m.type_counts()) type += (type.empty() ? "" : "+") + name;
  const std::string model_type = hp.arch + " " + (params > 1e9 ? std::to_string(params / 100000000 / 10.0).substr(0, 3) + "B" : std::to_string(params / 1000000) + "M") + " " + type;

  std::mt19937 rng(42);
  std::uniform_int_distribution<int32_t> tok(0, hp.n_vocab - 1);
  for (int threads : parse_threads(o.threads)) {
    if (!o.parallel.empty()) {
      bench_parallel(o, m, model_type, threads, results);
      continue;
    }
    // One session for every depth, its context filled once, deeper for each
    // depth in turn (random tokens); each test starts from there.
    std::vector<int> depths = parse_counts(o.depths, "-d", 0, 1 << 24);
    std::sort(depths.begin(), depths.end());
    SessionOptions so;
    so.n_ctx = depths.back() + std::max(o.n_prompt, o.n_gen) + 1;
    so.n_threads = threads;
    so.kv_type = kv_k(o);
    so.kv_type_v = kv_v(o);
    Session s(m, so);
    std::vector<int32_t> context;
    for (int depth : depths) {
      if (depth > static_cast<int>(context.size())) {
        s.truncate(static_cast<int>(context.size()));
        std::vector<int32_t> more(depth - context.size());
        for (auto& id : more) id = tok(rng);
        s.eval(more);
        context.insert(context.end(), more.begin(), more.end());
      }
      for (int pass = 0; pass < 2; ++pass) {
        const bool pp = pass == 0;
        const int n = pp ? o.n_prompt : o.n_gen;
        if (n <= 0) continue;
        std::vector<double> ts;
        for (int r = depth > 0 ? 0 : -1; r < o.reps; ++r) {  // r == -1 warms up (filling the context did that too)
          s.truncate(depth);
          std::vector<int32_t> ids(n);
          for (auto& id : ids) id = tok(rng);
          const auto t0 = Clock::now();
          if (pp) {
            s.eval(ids);
          } else {
            for (int i = 0; i < n; ++i) s.eval({ids[i]});
          }
          const double sec = since(t0);
          if (r >= 0) ts.push_back(n / sec);
        }
        const Stat st = stats(ts);
        const std::string test = (pp ? "pp" : "tg") + std::to_string(n) + (depth > 0 ? " @ d" + std::to_string(depth) : "");
        if (o.json) {
          results.push_back({{"model_filename", o.model}, {"model_type", model_type}, {"model_size", m.weight_bytes()},
                             {"model_n_params", params}, {"backends", m.backend().name()}, {"n_threads", threads},
                             {"n_prompt", pp ? n : 0}, {"n_gen", pp ? 0 : n}, {"n_depth", depth}, {"avg_ts", st.mean},
                             {"stddev_ts", st.sd}, {"samples_ts", st.samples}, {"type_k", kv_type_name(kv_k(o))},
                             {"type_v", kv_type_name(kv_v(o))}});
        } else {
          char size[32], par[32], tps[40];
          std::snprintf(size, sizeof size, "%.2f GiB", m.weight_bytes() / 1073741824.0);
          std::snprintf(par, sizeof par, "%.2f B", params / 1e9);
          std::snprintf(tps, sizeof tps, "%.2f ± %.2f", st.mean, st.sd);
          std::printf("| %-30s | %10s | %10s | %-11s | %7d | %13s | %16s |\n", model_type.substr(0, 30).c_str(), size, par,
                      m.backend().name().c_str(), threads, test.c_str(), tps);
          std::fflush(stdout);
        }
      }
    }
  }
}

void bench_model(const BenchOptions& o) {
  // The flags' values are checked before the table starts, so an error is the only output.
  parse_threads(o.threads);
  parse_counts(o.depths, "-d", 0, 1 << 24);
  nlohmann::json results = nlohmann::json::array();
  if (!o.json && !o.parallel.empty()) {
    std::printf("| model                          | backend     | threads | streams |        test | t/s (all streams) |\n");
    std::printf("| ------------------------------ | ----------- | ------: | ------: | ----------: | ---------------: |\n");
  } else if (!o.json) {
    std::printf("| model                          |       size |     params | backend     | threads |          test |              t/s |\n");
    std::printf("| ------------------------------ | ---------: | ---------: | ----------- | ------: | ------------: | ---------------: |\n");
  }
  size_t i = 0;
  while (i <= o.backend.size()) {  // --backend cpu,blas,onednn: a row per backend
    const size_t e = std::min(o.backend.find(',', i), o.backend.size());
    bench_backend(o, o.backend.substr(i, e - i), results);
    i = e + 1;
  }
  if (o.json) std::printf("%s\n", results.dump(2).c_str());
}
}  // namespace

void add_bench(CLI::App& app) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* sub = app.add_subcommand("bench", "measure speed: pp/tg tokens per second, or tokenizer speed");
  sub->add_option("-m,--model", o->model, "model file");
  sub->add_option("--tokenizer", o->tokenizer_json, "benchmark this tokenizer.json instead of a model");
  sub->add_flag("--tokenize", o->tokenize, "benchmark the model's tokenizer (load and encode speed)");
  sub->add_flag("--quant", o->quant, "bits per weight and error of every quantization type");
  sub->add_option("--tensor", o->tensor, "with --quant -m: the tensor to measure on");
  sub->add_option("--text", o->text_file, "text to tokenize (default: 1 MiB of mixed text)");
  sub->add_option("-t,--threads", o->threads, "comma-separated thread counts (0: physical cores, at most the CPUs allowed)");
  sub->add_option("-p,--n-prompt", o->n_prompt, "prompt tokens (pp test)")->check(CLI::Range(0, 1 << 16));
  sub->add_option("-n,--n-gen", o->n_gen, "generated tokens (tg test)")->check(CLI::Range(0, 1 << 16));
  sub->add_option("-r,--repetitions", o->reps, "repetitions")->check(CLI::Range(1, 1000));
  const std::vector<std::string> kv_types = {"f32", "f16", "q8_0", "q4_0"};
  sub->add_option("--kv-type", o->kv_type, "KV cache type (keys and values)")->check(CLI::IsMember(kv_types));
  sub->add_option("--cache-type-k", o->cache_type_k, "KV cache type of the keys (also -ctk)")->check(CLI::IsMember(kv_types));
  sub->add_option("--cache-type-v", o->cache_type_v, "KV cache type of the values (also -ctv)")->check(CLI::IsMember(kv_types));
  sub->add_option("-d,--n-depth", o->depths, "comma-separated context depths: each test runs after that many tokens");
  sub->add_option("--backend", o->backend, "backend, or several: cpu,blas,onednn (a row each)")->envname("EDGERUN_BACKEND");
  sub->add_option("--device", o->device, "GPU backends: device index")->check(CLI::Range(0, 1000));
  sub->add_option("--gpu-layers", o->gpu_layers, "GPU backends: layers on the GPU (also -ngl; default all)")->check(CLI::Range(0, 100000));
  sub->add_flag("--json", o->json, "print a JSON array (llama-bench's keys)");
  sub->add_option("--parallel", o->parallel, "comma-separated stream counts decoded together, as the server does "
                                             "(like llama-batched-bench -npl; rates for all streams)");
  sub->callback([o] {
    if (!o->tokenizer_json.empty() || o->tokenize) return bench_tokenizer(*o);
    if (o->quant) return bench_quant(*o);
    if (o->model.empty()) fail("-m", "give a model to benchmark (or --tokenizer)");
    bench_model(*o);
  });
}

}  // namespace edgerun::cli
