# Writes OUTPUT, a header defining IW_COMMIT (HEAD's short hash, or "unknown" outside a git
# checkout), and touches it only when the commit changed: version.cc is recompiled and the
# services relinked after a new commit, and not otherwise. COMMIT, when given (the cache
# variable IW_COMMIT: the image build, whose context has no .git), is written as it is instead.
if(COMMIT)
  set(commit ${COMMIT})
else()
  execute_process(COMMAND git rev-parse --short=12 HEAD
                  WORKING_DIRECTORY ${SOURCE_DIR}
                  OUTPUT_VARIABLE commit OUTPUT_STRIP_TRAILING_WHITESPACE
                  ERROR_QUIET)
endif()
if(NOT commit)
  set(commit unknown)
endif()
file(WRITE ${OUTPUT}.tmp "#define IW_COMMIT \"${commit}\"\n")
file(COPY_FILE ${OUTPUT}.tmp ${OUTPUT} ONLY_IF_DIFFERENT)
file(REMOVE ${OUTPUT}.tmp)
