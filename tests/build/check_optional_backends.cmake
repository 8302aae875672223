# CTest entry `build`: configuring never fails because an optional backend's library
# is missing or broken; asking for that backend explicitly does.
# Run as: cmake -DSOURCE=<tree> -DWORK=<scratch dir> -P check_optional_backends.cmake

function(configure name out_rc out_text)
  set(dir ${WORK}/${name})
  file(REMOVE_RECURSE ${dir})
  execute_process(COMMAND ${CMAKE_COMMAND} -S ${SOURCE} -B ${dir} -DEDGERUN_TESTS=OFF ${ARGN}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  set(${out_rc} ${rc} PARENT_SCOPE)
  set(${out_text} "${out}${err}" PARENT_SCOPE)
endfunction()

function(expect text pattern what)
  if(NOT text MATCHES "${pattern}")
    message(FATAL_ERROR "expected ${what} (/${pattern}/) in:\n${text}")
  endif()
  message(STATUS "ok: ${what}")
endfunction()

set(broken -Ddnnl_DIR=${SOURCE}/tests/build/broken_dnnl)

# A oneDNN package whose config script fails: left out with one line naming why.
configure(auto rc text ${broken})
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "configure with a broken oneDNN package failed (exit ${rc}):\n${text}")
endif()
expect("${text}" "edgerun: oneDNN backend left out: Could NOT find EdgerunBrokenDependency" "the left-out line with its reason")
expect("${text}" "edgerun backends: cpu; blas [A-Z]+; onednn OFF;" "onednn OFF in the summary")

# Asked for explicitly, the same package fails the configure, loudly.
configure(required rc text ${broken} -DEDGERUN_ONEDNN=ON)
if(rc EQUAL 0)
  message(FATAL_ERROR "-DEDGERUN_ONEDNN=ON with a broken oneDNN package configured without error:\n${text}")
endif()
expect("${text}" "Could NOT find EdgerunBrokenDependency" "the package's own error")

# OFF leaves a backend out without looking for it, and says nothing about it.
configure(off rc text -DEDGERUN_ONEDNN=OFF -DEDGERUN_BLAS=OFF -DEDGERUN_VULKAN=OFF)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "configure with every optional backend OFF failed (exit ${rc}):\n${text}")
endif()
expect("${text}" "edgerun backends: cpu; blas OFF; onednn OFF; vulkan OFF" "every optional backend OFF")
if(text MATCHES "left out")
  message(FATAL_ERROR "a backend turned OFF was reported as left out:\n${text}")
endif()
file(REMOVE_RECURSE ${WORK})
