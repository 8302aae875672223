# Optional backends. Each has a mode, EDGERUN_<NAME> = AUTO (the default: built when
# its library is found and loads, else left out with one line saying why), ON (required:
# a missing or broken library fails the configure loudly) or OFF. The result is
# EDGERUN_HAVE_<NAME>, which the rest of the build reads.

function(edgerun_backend_mode name doc)
  set(EDGERUN_${name} AUTO CACHE STRING "${doc}: AUTO, ON or OFF")
  set_property(CACHE EDGERUN_${name} PROPERTY STRINGS AUTO ON OFF)
  string(TOUPPER "${EDGERUN_${name}}" _mode)
  if(_mode STREQUAL "AUTO")
    set(_mode AUTO)
  elseif(EDGERUN_${name})
    set(_mode ON)
  else()
    set(_mode OFF)
  endif()
  set(EDGERUN_${name}_MODE ${_mode} PARENT_SCOPE)
endfunction()

# Says the backend is left out, and why, in one line.
function(edgerun_backend_left_out label why)
  message(STATUS "edgerun: ${label} backend left out: ${why}")
endfunction()

# Sets EDGERUN_HAVE_<name> from whether the backend's library was found: ON if
# it was; if not, a fatal error when the backend was asked for (ON), else the
# one line saying it is left out and why.
macro(edgerun_backend_decide name found label missing)
  if(${found})
    set(EDGERUN_HAVE_${name} ON)
  elseif(EDGERUN_${name}_MODE STREQUAL "ON")
    message(FATAL_ERROR "EDGERUN_${name}=ON, but ${missing}")
  else()
    edgerun_backend_left_out(${label} "${missing}")
  endif()
endmacro()

# The first line of a failed CMake run that tells a person what went wrong.
function(_edgerun_first_error_line text out)
  string(REGEX MATCH "Could NOT find [^\n]*" _line "${text}")
  if(NOT _line)
    # "CMake Error at file:line (message):" is followed by the message, indented.
    string(REGEX MATCH "CMake Error[^\n]*\n[ \t\n]*([^\n]*)" _all "${text}")
    set(_line "${CMAKE_MATCH_1}")
  endif()
  string(STRIP "${_line}" _line)
  if(NOT _line)
    set(_line "its CMake package failed to load")
  endif()
  set(${out} "${_line}" PARENT_SCOPE)
endfunction()

# Loads a CMake config package in a child configure first, so a package that errors
# out leaves the backend out instead of stopping the build. Sets <out_ok> and, on
# failure, <out_why>.
function(edgerun_probe_package pkg out_ok out_why)
  set(_args -DPROBE_PACKAGE=${pkg})
  foreach(v CMAKE_C_COMPILER CMAKE_CXX_COMPILER CMAKE_TOOLCHAIN_FILE CMAKE_SYSTEM_NAME
            CMAKE_SYSTEM_PROCESSOR CMAKE_LIBRARY_ARCHITECTURE CMAKE_PREFIX_PATH CMAKE_FIND_ROOT_PATH
            ${pkg}_DIR)
    if(DEFINED ${v} AND NOT "${${v}}" STREQUAL "" AND NOT "${${v}}" MATCHES "-NOTFOUND$")
      list(JOIN ${v} "\\;" _value)
      list(APPEND _args "-D${v}=${_value}")
    endif()
  endforeach()
  set(_dir ${CMAKE_BINARY_DIR}/package_probe/${pkg})
  file(REMOVE_RECURSE ${_dir})
  execute_process(
    COMMAND ${CMAKE_COMMAND} -S ${PROJECT_SOURCE_DIR}/backends/package_probe -B ${_dir} ${_args}
    RESULT_VARIABLE _rc OUTPUT_VARIABLE _out ERROR_VARIABLE _err)
  if(_rc EQUAL 0)
    set(${out_ok} TRUE PARENT_SCOPE)
  else()
    _edgerun_first_error_line("${_err}${_out}" _why)
    set(${out_ok} FALSE PARENT_SCOPE)
    set(${out_why} "${_why}" PARENT_SCOPE)
  endif()
endfunction()
