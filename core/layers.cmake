# The library's layers, each an object library that sees only its own headers
# and those of the layers below it, so an include that points up the stack
# fails to compile. Bottom to top:
#   base (core/common) -> quant -> formats -> text (tokenizer, Jinja templates)
#   -> backends -> model -> runtime (session, sampling, chat) -> convert -> api
# Headers are included by paths from four roots (core/, quant/, backends/,
# convert/). quant/, backends/ and convert/ hold one layer each, so a layer
# gets them as they are; core/ holds many, so each layer gets a view of it: a
# folder in the build tree with links to the core/ folders it may use.
set(EDGERUN_LAYERS "")

# edgerun_layer(NAME CORE <core/ folders or files> ROOTS <roots> SOURCES <files>)
function(edgerun_layer name)
  cmake_parse_arguments(L "" "" "CORE;ROOTS;SOURCES" ${ARGN})
  set(view ${CMAKE_BINARY_DIR}/layers/${name})
  file(REMOVE_RECURSE ${view})
  file(MAKE_DIRECTORY ${view})
  foreach(entry IN LISTS L_CORE)
    file(CREATE_LINK ${PROJECT_SOURCE_DIR}/core/${entry} ${view}/${entry} SYMBOLIC)
  endforeach()
  set(roots "")
  foreach(r IN LISTS L_ROOTS)
    list(APPEND roots ${PROJECT_SOURCE_DIR}/${r})
  endforeach()
  add_library(edgerun_${name} OBJECT ${L_SOURCES})
  target_include_directories(edgerun_${name} PRIVATE ${view} ${roots})
  # Only the C API is exported from libedgerun.so (ER_API in core/include/edgerun.h).
  set_target_properties(edgerun_${name} PROPERTIES CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
  target_link_libraries(edgerun_${name} PRIVATE Threads::Threads nlohmann_json::nlohmann_json)
  set(EDGERUN_LAYERS ${EDGERUN_LAYERS} edgerun_${name} PARENT_SCOPE)
endfunction()

edgerun_layer(base CORE common SOURCES
  core/common/mapped_file.cpp core/common/files.cpp core/common/log.cpp core/common/printable.cpp core/common/system_memory.cpp)
edgerun_layer(quant CORE common ROOTS quant SOURCES
  quant/types.cpp quant/quant.cpp quant/ref_legacy.cpp quant/ref_kquants.cpp quant/quantize_kquants.cpp quant/ref_iq4.cpp quant/layouts.cpp)
edgerun_layer(formats CORE common formats ROOTS quant SOURCES
  core/formats/metadata.cpp core/formats/gguf.cpp core/formats/kv_codec.cpp core/formats/erm.cpp core/formats/safetensors.cpp)
target_link_libraries(edgerun_formats PRIVATE zstd::libzstd_shared)
edgerun_layer(text CORE common formats tokenizer template ROOTS quant SOURCES
  core/tokenizer/utf8.cpp core/tokenizer/pretokenizer.cpp core/tokenizer/tokenizer.cpp core/tokenizer/tokenizer_load.cpp
  core/tokenizer/hf_json.cpp core/template/value.cpp core/template/parser.cpp core/template/eval.cpp
  core/template/builtins.cpp core/template/chat_template.cpp)
target_link_libraries(edgerun_text PRIVATE ICU::uc ICU::i18n)
edgerun_layer(backends CORE common ROOTS quant backends SOURCES
  backends/registry.cpp backends/settings.cpp backends/kv_types.cpp backends/moe_mlp.cpp backends/cpu/cpu_backend.cpp backends/cpu/thread_pool.cpp
  backends/cpu/cpu_attention.cpp backends/cpu/cpu_moe.cpp
  backends/cpu/kernels.cpp backends/cpu/float_kernels.cpp backends/cpu/iq4_kernels.cpp backends/cpu/row_kernels.cpp backends/cpu/group_kernels.cpp)
target_link_libraries(edgerun_backends PRIVATE hwy::hwy)
# AVX-VNNI kernels: Highway 1.0.3 has no target for them, so their file gets the
# instruction sets itself, and the library calls it only where the CPU has them.
if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64|amd64")
  target_sources(edgerun_backends PRIVATE backends/cpu/group_kernels_avxvnni.cpp)
  set_source_files_properties(backends/cpu/group_kernels_avxvnni.cpp PROPERTIES COMPILE_OPTIONS "-mavx2;-mfma;-mf16c;-mavxvnni")
  target_compile_definitions(edgerun_backends PRIVATE EDGERUN_AVX_VNNI=1)
  # The same code with AVX-512 VNNI's encodings, for testing it on CPUs
  # without AVX-VNNI; GCC can keep it to the 16 registers AVX-VNNI CPUs have.
  target_sources(edgerun_backends PRIVATE backends/cpu/group_kernels_avxvnni_evex.cpp)
  set(upper_vector_registers "")
  foreach(r RANGE 16 31)
    list(APPEND upper_vector_registers "-ffixed-xmm${r}")
  endforeach()
  set_source_files_properties(backends/cpu/group_kernels_avxvnni_evex.cpp PROPERTIES COMPILE_OPTIONS
    "-mavx2;-mfma;-mf16c;-mavx512f;-mavx512vl;-mavx512vnni;$<$<CXX_COMPILER_ID:GNU>:${upper_vector_registers}>")
endif()
# The NEON group kernels, likewise: plain ARMv8-A, ARMv8.2-A with the
# dot-product instructions, and with the int8 matrix multiplies too, each for
# the CPUs that report them.
if(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64|arm64|ARM64")
  target_sources(edgerun_backends PRIVATE backends/cpu/neon_kernels.cpp backends/cpu/neon_dotprod_kernels.cpp
    backends/cpu/neon_i8mm_kernels.cpp)
  set_source_files_properties(backends/cpu/neon_dotprod_kernels.cpp PROPERTIES COMPILE_OPTIONS "-march=armv8.2-a+dotprod")
  set_source_files_properties(backends/cpu/neon_i8mm_kernels.cpp PROPERTIES COMPILE_OPTIONS "-march=armv8.2-a+dotprod+i8mm")
  target_compile_definitions(edgerun_backends PRIVATE EDGERUN_NEON_KERNELS=1)
endif()
edgerun_layer(model CORE common formats tokenizer template model ROOTS quant backends SOURCES
  core/model/arch.cpp core/model/model.cpp core/model/source.cpp core/model/hf_source.cpp core/model/graph.cpp core/model/moe_router.cpp)
edgerun_layer(runtime CORE common formats tokenizer template model session sampling runtime ROOTS quant backends SOURCES
  core/session/session.cpp core/sampling/sampler.cpp core/runtime/reasoning.cpp core/runtime/stop_strings.cpp
  core/runtime/chat_format.cpp core/runtime/turn_stream.cpp core/runtime/chat.cpp core/runtime/generation_defaults.cpp core/runtime/scheduler.cpp)
edgerun_layer(convert CORE common formats tokenizer template model ROOTS quant backends convert SOURCES
  convert/converter.cpp convert/quant_mix.cpp)
edgerun_layer(api CORE common formats tokenizer template model session sampling runtime edgerun.hpp include
  ROOTS quant backends convert core/include SOURCES
  core/edgerun.cpp core/api/c_api.cpp)
