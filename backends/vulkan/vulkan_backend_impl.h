// The Vulkan Backend class, shared by vulkan_backend.cpp and the self-test.
#pragma once

#include <memory>
#include <string>

#include "vulkan_internal.h"

namespace edgerun::vk {

class VkBackend : public Backend {
 public:
  explicit VkBackend(int device);
  ~VkBackend() override;
  std::string name() const override { return "vulkan"; }
  std::string device_name() const override;
  bool is_gpu() const override { return true; }
  uint64_t memory_budget() const override;
  bool supports(DType t) const override;
  std::unique_ptr<Weight> upload(const TensorDesc& d) override;
  std::unique_ptr<Executor> make_executor(const ExecutorOptions& o) override;
  Context& context() { return *cx_; }
  std::string exactness_note;  // self_test's verdict: "" when the device computes the cpu's bits

 private:
  std::unique_ptr<Context> cx_;
  std::unique_ptr<WeightStore> store_;
};

// Throws Error naming the first op whose result differs from the cpu's by
// more than float rounding; returns "" when every op gave the cpu's bits, or
// which op did not.
std::string self_test(VkBackend& be);
// Throws Error when a bandwidth-bound product runs slower here than on the cpu.
void check_faster_than_cpu(VkBackend& be);

}  // namespace edgerun::vk
