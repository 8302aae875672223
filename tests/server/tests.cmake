# The server driven by real clients, in Node.js: OpenAI's official client
# (pinned with its lock file; `npm ci` fetches it into the build tree, the one
# download of the suite, test-only), a load test, and the chat page in
# headless Chromium through Debian's chromedriver. A tool that is missing
# makes its test say "skipped: <why>", which CTest reports as skipped, never
# as passed.
find_program(EDGERUN_NODE node)
find_program(EDGERUN_NPM npm)
set(_work ${CMAKE_CURRENT_BINARY_DIR}/server-tests)
set(_src ${CMAKE_CURRENT_SOURCE_DIR}/server)

add_test(NAME server_npm COMMAND ${CMAKE_COMMAND} -DSRC=${_src} -DWORK=${_work} -DNPM=${EDGERUN_NPM}
         -P ${_src}/npm_setup.cmake)
set(_skipped "(^|\n)skipped: ")
set_tests_properties(server_npm PROPERTIES FIXTURES_SETUP server_node SKIP_REGULAR_EXPRESSION "${_skipped}")

# node <script> <edgerun> <source dir> [args...], run from the copy beside node_modules.
function(edgerun_node_test name script)
  if(EDGERUN_NODE)
    add_test(NAME ${name} COMMAND ${EDGERUN_NODE} ${_work}/${script} $<TARGET_FILE:edgerun> ${PROJECT_SOURCE_DIR} ${ARGN}
             WORKING_DIRECTORY ${_work})
  else()
    add_test(NAME ${name} COMMAND ${CMAKE_COMMAND} -E echo "skipped: node not found (Debian: nodejs)")
  endif()
  set_tests_properties(${name} PROPERTIES FIXTURES_REQUIRED server_node TIMEOUT 600 SKIP_REGULAR_EXPRESSION "${_skipped}")
endfunction()

edgerun_node_test(server_openai openai_client.mjs)
edgerun_node_test(server_load load.mjs 64 200)
if(EDGERUN_SANITIZE AND EDGERUN_NODE)
  # ASan keeps freed memory in quarantine, so RSS says nothing about leaks there: LeakSanitizer does, at exit.
  set_tests_properties(server_load PROPERTIES ENVIRONMENT EDGERUN_TEST_SANITIZED=1)
endif()
edgerun_node_test(server_browser browser.mjs ${CMAKE_CURRENT_BINARY_DIR}/chat-page.png)
