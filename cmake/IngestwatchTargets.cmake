# Project-wide warnings: every target we own builds with them; third-party headers are system
# includes and stay quiet.
set(IW_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Woverloaded-virtual
    -Wimplicit-fallthrough -Wcast-qual -Wformat=2
    # g++ 12 flags designated initializers that leave defaulted members out, which is the
    # point of writing them; later compilers no longer do.
    -Wno-missing-field-initializers)
if(IW_WERROR)
  list(APPEND IW_WARNINGS -Werror)
endif()

# iw_library(NAME SOURCES ... [PUBLIC_DEPS ...] [PRIVATE_DEPS ...])
# Declares libs/NAME as target iw_NAME with alias iw::NAME; public headers under include/.
function(iw_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(iw_${name} STATIC ${ARG_SOURCES})
  add_library(iw::${name} ALIAS iw_${name})
  target_include_directories(iw_${name} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include)
  target_compile_options(iw_${name} PRIVATE ${IW_WARNINGS})
  target_link_libraries(iw_${name} PUBLIC ${ARG_PUBLIC_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
endfunction()

# iw_test(NAME SOURCES ... DEPS ... [LABELS ...] [FIXTURES ...] [ENVIRONMENT ...])
# A GoogleTest executable whose cases become individual CTest tests.
function(iw_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;DEPS;LABELS;FIXTURES;ENVIRONMENT" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_compile_options(${name} PRIVATE ${IW_WARNINGS})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gmock_main)
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  set(props LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT})
  if(ARG_FIXTURES)
    list(APPEND props FIXTURES_REQUIRED "${ARG_FIXTURES}")
  endif()
  if(ARG_ENVIRONMENT)
    list(APPEND props ENVIRONMENT "${ARG_ENVIRONMENT}")
  endif()
  gtest_discover_tests(${name} DISCOVERY_MODE PRE_TEST TEST_PREFIX "${name}." PROPERTIES ${props})
endfunction()

# iw_service(BINARY PARTS_SOURCES ... DEPS ...)
# A service or tool: its own code as the static library BINARY_parts (what its unit tests link),
# and the executable BINARY built from src/main.cc.
function(iw_service binary)
  cmake_parse_arguments(ARG "" "" "PARTS_SOURCES;DEPS" ${ARGN})
  string(REPLACE "-" "_" parts "${binary}_parts")
  add_library(${parts} STATIC ${ARG_PARTS_SOURCES})
  target_include_directories(${parts} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/src)
  target_compile_options(${parts} PRIVATE ${IW_WARNINGS})
  target_link_libraries(${parts} PUBLIC ${ARG_DEPS})
  add_executable(${binary} src/main.cc)
  target_compile_options(${binary} PRIVATE ${IW_WARNINGS})
  target_link_libraries(${binary} PRIVATE ${parts})
endfunction()

# iw_process_test(NAME BINARY target PATH_DEFINE MACRO SOURCES ... DEPS ... [TIMEOUT s]
#                 [NO_BROKER])
# An integration test that runs the executable `target` as a process against the CTest Kafka
# broker; the test finds it through the compile definition MACRO. With NO_BROKER, a unit test
# that runs it without one (its command line and configuration checks).
function(iw_process_test name)
  cmake_parse_arguments(ARG "NO_BROKER" "BINARY;PATH_DEFINE;TIMEOUT" "SOURCES;DEPS" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 600)
  endif()
  if(ARG_NO_BROKER)
    iw_test(${name} SOURCES ${ARG_SOURCES} DEPS ${ARG_DEPS} TIMEOUT ${ARG_TIMEOUT})
  else()
    iw_test(${name} SOURCES ${ARG_SOURCES} DEPS ${ARG_DEPS} LABELS integration FIXTURES kafka
            ENVIRONMENT ${IW_KAFKA_TEST_ENV} TIMEOUT ${ARG_TIMEOUT})
  endif()
  target_compile_definitions(${name} PRIVATE ${ARG_PATH_DEFINE}="$<TARGET_FILE:${ARG_BINARY}>")
  add_dependencies(${name} ${ARG_BINARY})
endfunction()
