# The accept benchmark (tests/bench/accept_bench.c), run by scripts/bench
# with and without the library. Built with everything else so that
# scripts/bench works right after scripts/check; never installed.
add_executable(accept_bench ${PROJECT_SOURCE_DIR}/tests/bench/accept_bench.c)
set_target_properties(accept_bench PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bench)
target_compile_options(accept_bench PRIVATE ${A4S_WARNINGS})
target_compile_definitions(accept_bench PRIVATE _GNU_SOURCE)

# The syslog daemon of the benchmark's syslog configuration.
add_executable(dgram_sink ${PROJECT_SOURCE_DIR}/tests/bench/dgram_sink.c)
set_target_properties(dgram_sink PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bench)
target_compile_options(dgram_sink PRIVATE ${A4S_WARNINGS})
target_compile_definitions(dgram_sink PRIVATE _GNU_SOURCE)
