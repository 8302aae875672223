// The SPIR-V of every shader variant, compiled by glslc at build time
// (vulkan.cmake) and embedded: nothing is compiled or read from disk at run time.
#pragma once

#include <cstddef>
#include <string>

namespace edgerun::vk {

struct Spirv {
  const char* name;
  const unsigned char* data;  // 4-byte aligned
  size_t size;                // bytes
};

const Spirv* find_spirv(const std::string& name);  // nullptr when absent

}  // namespace edgerun::vk
