// edgerun convert / quantize / verify.
#include <cstdio>
#include <memory>

#include "commands.h"
#include "converter.h"
#include "formats/erm.h"

namespace edgerun::cli {

namespace {
struct ConvertCli {
  std::string src, out, quant = "keep";
  bool force = false, rows = false;
  int threads = 0;
};

void progress_bar(size_t done, size_t total) {
  const int width = 40;
  const int filled = static_cast<int>(width * done / std::max<size_t>(total, 1));
  std::fprintf(stderr, "\r[%.*s%*s] %zu/%zu tensors", filled, "########################################", width - filled, "", done, total);
  if (done == total) std::fprintf(stderr, "\n");
}

void run_convert(const ConvertCli& c) {
  ConvertOptions o;
  o.quant = c.quant;
  o.overwrite = c.force;
  o.grouped = !c.rows;
  o.n_threads = c.threads > 0 ? c.threads : default_thread_count();
  o.progress = [](size_t done, size_t total, uint64_t) { progress_bar(done, total); };
  const ConvertSummary s = convert_model(c.src, c.out, o);
  std::fprintf(stderr, "edgerun: wrote %s: %zu tensors, %s, %.2f bits per weight, %.1f s\n", c.out.c_str(), s.n_tensors,
               human_bytes(static_cast<double>(s.bytes)).c_str(), s.bits_per_weight, s.seconds);
}

void run_verify(const std::string& path) {
  auto f = ErmFile::open(path);  // checks the header checksum
  const auto bad = f->verify([](size_t done, size_t total) { progress_bar(done, total); });
  if (!bad.empty()) {
    std::string names;
    for (const auto& b : bad) names += (names.empty() ? "" : ", ") + b;
    fail(path, std::to_string(bad.size()) + " tensor(s) fail their checksum: " + names);
  }
  // Intact bytes can still hold what no model is (a tokenizer, hyper-parameters): loading checks those.
  auto model = load_model(path, LoadOptions{"cpu"});
  if (!model) fail("", "the checksums hold, but the model does not load: " + model.message());
  std::printf("%s: OK (header and %zu tensor checksums; the model loads)\n", path.c_str(), f->tensors().size());
}
}  // namespace

void add_convert(CLI::App& app) {
  auto c = std::make_shared<ConvertCli>();
  CLI::App* sub = app.add_subcommand("convert", "convert a Hugging Face folder or a GGUF file to .erm");
  sub->add_option("source", c->src, "Hugging Face folder, .gguf or .erm")->required();
  sub->add_option("-o,--output", c->out, "the .erm file to write")->required();
  sub->add_option("--quant", c->quant, "keep (default), or llama.cpp's name of a mix or type (q4_k_m, q5_k_m, q4_k_s, q3_k_m, q2_k, iq4_xs, q8_0, q6_k, q4_0, f16, ...)");
  sub->add_flag("--force", c->force, "overwrite an existing output file");
  sub->add_flag("--rows", c->rows, "store every tensor in rows, as GGUF does (default: matrices in the cpu kernels' 16-row groups)");
  sub->add_option("-t,--threads", c->threads, "threads (default: physical cores, at most the CPUs allowed)")->check(CLI::Range(0, 1024));
  sub->callback([c] { run_convert(*c); });

  auto q = std::make_shared<ConvertCli>();
  CLI::App* qsub = app.add_subcommand("quantize", "re-quantize a model to another type (writes .erm)");
  qsub->add_option("input", q->src, "model to quantize")->required();
  qsub->add_option("output", q->out, "the .erm file to write")->required();
  qsub->add_option("--type", q->quant, "llama.cpp's name of a mix or type (q4_k_m, q5_k_m, q4_k_s, q3_k_m, q2_k, iq4_xs, q8_0, q6_k, q4_0, f16, ...)")->required();
  qsub->add_flag("--force", q->force, "overwrite an existing output file");
  qsub->add_flag("--rows", q->rows, "store every tensor in rows, as GGUF does (default: matrices in 16-row groups)");
  qsub->add_option("-t,--threads", q->threads, "threads (default: physical cores, at most the CPUs allowed)")->check(CLI::Range(0, 1024));
  qsub->callback([q] { run_convert(*q); });

  auto v = std::make_shared<std::string>();
  CLI::App* vsub = app.add_subcommand("verify", "check every checksum of an .erm file");
  vsub->add_option("model", *v, ".erm file")->required();
  vsub->callback([v] { run_verify(*v); });
}

}  // namespace edgerun::cli
