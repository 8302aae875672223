# The Vulkan backend: built when the Vulkan headers and glslc are found. The
# loader (libvulkan.so.1) is opened at run time, so it is not linked. Every
# shader variant is compiled here; a shader that does not compile fails the build.
edgerun_backend_mode(VULKAN "Build the Vulkan backend")
set(EDGERUN_HAVE_VULKAN OFF)
if(NOT EDGERUN_VULKAN_MODE STREQUAL "OFF")
  find_path(VULKAN_INCLUDE_DIR vulkan/vulkan.h)
  find_program(GLSLC_EXECUTABLE glslc)
  set(_vulkan_found OFF)
  if(VULKAN_INCLUDE_DIR AND GLSLC_EXECUTABLE)
    set(_vulkan_found ON)
  endif()
  edgerun_backend_decide(VULKAN _vulkan_found Vulkan "vulkan/vulkan.h or glslc not found (Debian: libvulkan-dev and glslc)")
endif()

if(EDGERUN_HAVE_VULKAN)
  set(_vk_dir ${CMAKE_CURRENT_SOURCE_DIR}/backends/vulkan)
  set(_spv_dir ${CMAKE_CURRENT_BINARY_DIR}/spirv)
  file(MAKE_DIRECTORY ${_spv_dir})

  # name | source | defines
  set(_variants
    "rms_norm|rms_norm.comp|" "rms_norm_sg|rms_norm.comp|-DUSE_SUBGROUPS"
    "rope|rope.comp|"
    "kv_store_f32|kv_store.comp|" "kv_store_f16|kv_store.comp|-DKV_F16"
    "attention_f32|attention.comp|" "attention_f32_sg|attention.comp|-DUSE_SUBGROUPS"
    "attention_f16|attention.comp|-DKV_F16" "attention_f16_sg|attention.comp|-DKV_F16 -DUSE_SUBGROUPS"
    "round_act_q8_0|round_act.comp|" "round_act_q8_k|round_act.comp|-DQ8_K"
    "round_act_q8_0_packed|round_act.comp|-DPACKED" "round_act_q8_k_packed|round_act.comp|-DQ8_K -DPACKED"
    "round_act_q8_1|round_act.comp|-DQ8_1" "round_act_q8_1_packed|round_act.comp|-DQ8_1 -DPACKED"
    "add|eltwise.comp|-DOP_ADD" "swiglu|eltwise.comp|-DOP_SWIGLU" "copy|eltwise.comp|-DOP_COPY")
  foreach(t F32 F16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 IQ4_NL Q2_K Q3_K Q4_K Q5_K Q6_K IQ4_XS)
    string(TOLOWER ${t} _tl)
    list(APPEND _variants "get_rows_${_tl}|get_rows.comp|-DTYPE_${t}")
  endforeach()
  # Float weights: products in any order (they round nothing afterwards); quantized ones in the cpu's.
  foreach(t F32 F16)
    string(TOLOWER ${t} _tl)
    list(APPEND _variants "matvec_${_tl}|matvec.comp|-DTYPE_${t}" "matvec_${_tl}_sg|matvec.comp|-DTYPE_${t} -DUSE_SUBGROUPS"
         "matmul_${_tl}|matmul.comp|-DTYPE_${t}")
  endforeach()
  foreach(t Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 IQ4_NL Q2_K Q3_K Q4_K Q5_K Q6_K IQ4_XS)
    string(TOLOWER ${t} _tl)
    list(APPEND _variants "qmatmul_${_tl}|qmatmul.comp|-DTYPE_${t}")
  endforeach()

  set(_spv_files "")
  set(_spv_names "")
  foreach(v IN LISTS _variants)
    string(REPLACE "|" ";" parts "${v}")
    list(GET parts 0 name)
    list(GET parts 1 src)
    list(LENGTH parts n)
    set(defs "")
    if(n GREATER 2)
      list(GET parts 2 defs)
      separate_arguments(defs UNIX_COMMAND "${defs}")
    endif()
    add_custom_command(
      OUTPUT ${_spv_dir}/${name}.spv
      COMMAND ${GLSLC_EXECUTABLE} --target-env=vulkan1.2 -O -Werror ${defs} ${_vk_dir}/shaders/${src} -o ${_spv_dir}/${name}.spv
      DEPENDS ${_vk_dir}/shaders/${src} ${_vk_dir}/shaders/common.glsl ${_vk_dir}/shaders/dequant.glsl
              ${_vk_dir}/shaders/exact_math.glsl
      COMMENT "glslc ${name}"
      VERBATIM)
    list(APPEND _spv_files ${_spv_dir}/${name}.spv)
    list(APPEND _spv_names ${name})
  endforeach()
  string(REPLACE ";" "," _spv_names_csv "${_spv_names}")
  add_custom_command(
    OUTPUT ${_spv_dir}/spirv_table.cpp
    COMMAND ${CMAKE_COMMAND} -DOUT=${_spv_dir}/spirv_table.cpp -DDIR=${_spv_dir} -DNAMES=${_spv_names_csv}
            -P ${_vk_dir}/embed_spirv.cmake
    DEPENDS ${_spv_files} ${_vk_dir}/embed_spirv.cmake
    COMMENT "embedding SPIR-V"
    VERBATIM)

  target_sources(edgerun_backends PRIVATE
    backends/vulkan/vk_loader.cpp
    backends/vulkan/vk_context.cpp
    backends/vulkan/vulkan_weights.cpp
    backends/vulkan/vulkan_executor.cpp
    backends/vulkan/vulkan_backend.cpp
    backends/vulkan/vulkan_selftest.cpp
    ${_spv_dir}/spirv_table.cpp)
  # Vulkan structs are zero-initialised with only sType given, by design.
  set_source_files_properties(backends/vulkan/vk_context.cpp backends/vulkan/vulkan_executor.cpp
    backends/vulkan/vulkan_backend.cpp PROPERTIES COMPILE_OPTIONS -Wno-missing-field-initializers)
  target_include_directories(edgerun_backends PRIVATE ${VULKAN_INCLUDE_DIR} ${_vk_dir})
  add_compile_definitions(EDGERUN_WITH_VULKAN)
  list(APPEND EDGERUN_EXTRA_LIBS ${CMAKE_DL_LIBS})
endif()
