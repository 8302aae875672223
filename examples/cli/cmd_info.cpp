// edgerun info: what a model file holds.
#include <cstdio>
#include <map>
#include <memory>

#include "commands.h"
#include "common/printable.h"
#include "cpu/kernels.h"
#include "registry.h"
#include "model/source.h"
#ifdef EDGERUN_WITH_VULKAN
#include "vulkan/vulkan_backend.h"
#endif

namespace edgerun::cli {

std::string kernel_summary(const Model& m) {
  std::string out;
  for (const auto& [name, count] : m.type_counts()) {
    DType t;
    if (!dtype_from_name(name, &t) || t == DType::F32 || !cpu::kernel_form(t)) continue;
    out += (out.empty() ? "" : ", ") + name + " " + cpu::kernel_form(t);
  }
  return out.empty() ? "f32 SIMD rows" : out;
}

namespace {
struct InfoOptions {
  std::string model;
  bool metadata = false;
  bool backends = false;
};

void list_backends() {
  std::printf("backends compiled in (auto: a GPU backend where a GPU passes its self-test and beats the cpu, else %s):\n",
              auto_cpu_backend_name().c_str());
  for (const auto& b : registered_backends()) {
    std::string status = "usable";
    try {
      b.create(BackendOptions{}, false);
    } catch (const std::exception& e) {
      status = std::string("not usable: ") + e.what();
    }
    std::printf("  %-8s %s\n           %s\n", b.name.c_str(), status.c_str(), b.description.c_str());
#ifdef EDGERUN_WITH_VULKAN
    if (b.name == "vulkan")
      for (const auto& line : vulkan_device_lines()) std::printf("           %s\n", line.c_str());
#endif
  }
  const cpu::KernelSet& ks = cpu::best_kernels();
  std::printf("SIMD target of the cpu kernels: %s (16-row group kernels: %s)\n", ks.target, ks.groups ? ks.groups : "none");
}

void run(const InfoOptions& o) {
  if (o.backends) return list_backends();
  if (o.model.empty()) fail("info", "give a model file (or --backends)");
  auto model = load_model(o.model, LoadOptions{"cpu"});
  if (!model) throw Error(model.message());
  const Model& m = **model;
  const HParams& hp = m.hparams();
  const ModelSource& src = m.source();
  const Metadata& g = src.metadata();
  std::printf("file:          %s (%s, %s)\n", o.model.c_str(), src.format().c_str(), human_bytes(static_cast<double>(src.file_size())).c_str());
  std::printf("architecture:  %s\n", hp.arch.c_str());
  std::printf("name:          %s\n", printable(g.get_string("general.name", "-"), false).c_str());
  std::printf("layers:        %d\n", hp.n_layer);
  std::printf("embedding:     %d\n", hp.n_embd);
  std::printf("heads:         %d (kv %d, head size %d, rotary %d)\n", hp.n_head, hp.n_head_kv, hp.head_dim, hp.n_rot);
  std::printf("feed-forward:  %d\n", hp.n_ff);
  if (hp.has_moe()) {
    int moe_layers = 0;
    for (const LayerSpec& l : hp.layers) moe_layers += l.mlp == MlpKind::Moe;
    std::printf("experts:       %d, %d used per token, width %d (%d of %d layers)%s\n", hp.n_expert, hp.n_expert_used,
                hp.n_ff_exp, moe_layers, hp.n_layer, hp.expert_norm ? "" : ", weights not renormalised");
  }
  std::printf("vocabulary:    %d (%s)\n", hp.n_vocab,
              m.tokenizer().kind() == Tokenizer::Kind::ByteLevel ? "byte-level BPE" : "SentencePiece BPE");
  std::printf("context:       %d (trained)\n", hp.n_ctx_train);
  std::printf("rope base:     %g\n", hp.rope_theta);
  std::printf("rms epsilon:   %g\n", hp.rms_eps);
  std::printf("tensors:       %zu, %s of weights\n", src.tensors().size(), human_bytes(static_cast<double>(m.weight_bytes())).c_str());
  std::printf("types:        ");
  for (const auto& [name, count] : m.type_counts()) std::printf(" %s x%d", name.c_str(), count);
  std::printf("\n");
  const uint64_t params = m.n_params();
  std::printf("parameters:    %.2f M (%.2f bits per weight)", params / 1e6, 8.0 * m.weight_bytes() / std::max<uint64_t>(params, 1));
  if (hp.has_moe()) std::printf(", %.2f M active per token", m.n_active_params() / 1e6);
  std::printf("\n");
  const cpu::KernelSet& ks = cpu::best_kernels();
  std::printf("backend:       %s (SIMD target %s, group kernels %s)\n", m.backend().name().c_str(), ks.target,
              ks.groups ? ks.groups : "none");
  std::printf("cpu kernels:   %s\n", kernel_summary(m).c_str());
  std::printf("chat template: %s\n", m.tokenizer().chat_template().empty() ? "none" : "yes");
  if (o.metadata) {
    std::printf("\nmetadata:\n");
    // Keys, values and names are the file's text: shown, never obeyed by the terminal.
    for (const auto& k : g.keys()) std::printf("  %-45s %s\n", printable(k, false).c_str(), printable(g.describe(*g.find(k)), false).c_str());
    std::printf("\ntensors:\n");
    for (const auto& t : src.tensors()) {
      std::string shape;
      for (size_t i = 0; i < t.shape.size(); ++i) shape += (i ? " x " : "") + std::to_string(t.shape[i]);
      std::printf("  %-32s %-6s %s\n", printable(t.name, false).c_str(), dtype_name(t.type), shape.c_str());
    }
  }
}
}  // namespace

void add_info(CLI::App& app) {
  auto o = std::make_shared<InfoOptions>();
  CLI::App* sub = app.add_subcommand("info", "describe a model file");
  sub->add_option("model", o->model, "model file");
  sub->add_flag("--backends", o->backends, "list the backends compiled in and whether they can run here");
  sub->add_flag("--metadata", o->metadata, "list every metadata key and tensor");
  sub->callback([o] { run(*o); });
}

}  // namespace edgerun::cli
