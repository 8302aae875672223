# CTest entry `install`: installs into a temporary root the way `make install
# DESTDIR=... PREFIX=...` does, then builds examples/c against it as an app
# would — with cc and pkg-config, and with a CMake project using
# find_package(edgerun) — and runs both on stories260K: they must print the
# reference greedy text.
# Run as: cmake -DBUILD=<build dir> -DSOURCE=<tree> -DWORK=<scratch> -DCC=<c compiler> [-DCFLAGS=...] -P check_install.cmake
# (CFLAGS: the sanitizer flags, when the library was built with them.)
separate_arguments(cflags UNIX_COMMAND "${CFLAGS}")
file(REMOVE_RECURSE ${WORK})
set(prefix /opt/edgerun)
set(root ${WORK}/dest${prefix})

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}\n${err}")
  endif()
  set(last_out "${out}" PARENT_SCOPE)
endfunction()

run("install" ${CMAKE_COMMAND} -E env DESTDIR=${WORK}/dest ${CMAKE_COMMAND} --install ${BUILD} --prefix ${prefix})
foreach(f include/edgerun.h lib/pkgconfig/edgerun.pc lib/cmake/edgerun/edgerunConfig.cmake bin/edgerun)
  if(NOT EXISTS ${root}/${f})
    message(FATAL_ERROR "not installed: ${prefix}/${f}")
  endif()
endforeach()
file(GLOB sonames ${root}/lib/libedgerun.so.0)
if(NOT sonames)
  message(FATAL_ERROR "libedgerun.so.0 (the SONAME) is not installed")
endif()

# The reference: llama2.c's greedy story, 60 tokens after "Once upon a time".
file(READ ${SOURCE}/../shared/fixtures/stories260K/reference.json ref)
string(JSON text GET "${ref}" cases 0 text)
set(expected "${text}\n")
set(model ${SOURCE}/examples/models/stories260K/stories260K.gguf)
file(WRITE ${WORK}/prompt.txt "Once upon a time\n")

# cc chat.c $(pkg-config --cflags --libs edgerun)
run("pkg-config" ${CMAKE_COMMAND} -E env PKG_CONFIG_PATH=${root}/lib/pkgconfig pkg-config --cflags --libs edgerun)
string(STRIP "${last_out}" flags)
separate_arguments(flags UNIX_COMMAND "${flags}")
run("cc chat.c" ${CC} -std=c99 -Wall -Wextra -pedantic -Werror ${cflags} ${SOURCE}/examples/c/chat.c ${flags} -o ${WORK}/chat_pc)
execute_process(COMMAND ${CMAKE_COMMAND} -E env LD_LIBRARY_PATH=${root}/lib ${WORK}/chat_pc ${model} 60
                INPUT_FILE ${WORK}/prompt.txt RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT out STREQUAL expected)
  message(FATAL_ERROR "examples/c built with pkg-config printed (exit ${rc}):\n${out}\n${err}\nexpected:\n${expected}")
endif()
message(STATUS "ok: cc + pkg-config build prints the reference text")

# A CMake project: find_package(edgerun) -> edgerun::edgerun
run("configure examples/c" ${CMAKE_COMMAND} -S ${SOURCE}/examples/c -B ${WORK}/example -DCMAKE_PREFIX_PATH=${root}
    -DCMAKE_C_COMPILER=${CC} -DCMAKE_BUILD_TYPE=Release "-DCMAKE_C_FLAGS=${CFLAGS}" "-DCMAKE_EXE_LINKER_FLAGS=${CFLAGS}")
run("build examples/c" ${CMAKE_COMMAND} --build ${WORK}/example)
execute_process(COMMAND ${CMAKE_COMMAND} -E env LD_LIBRARY_PATH=${root}/lib ${WORK}/example/chat ${model} 60
                INPUT_FILE ${WORK}/prompt.txt RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT out STREQUAL expected)
  message(FATAL_ERROR "examples/c built with find_package printed (exit ${rc}):\n${out}\n${err}\nexpected:\n${expected}")
endif()
message(STATUS "ok: find_package(edgerun) build prints the reference text")
file(REMOVE_RECURSE ${WORK})
