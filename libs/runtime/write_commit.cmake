# Writes OUTPUT, a header defining IW_COMMIT (HEAD's short hash, or "unknown" outside a git
# checkout), and touches it only when the commit changed: version.cc is recompiled and the
# services relinked after a new commit, and not otherwise.
execute_process(COMMAND git rev-parse --short=12 HEAD
                WORKING_DIRECTORY ${SOURCE_DIR}
                OUTPUT_VARIABLE commit OUTPUT_STRIP_TRAILING_WHITESPACE
                ERROR_QUIET)
if(NOT commit)
  set(commit unknown)
endif()
file(WRITE ${OUTPUT}.tmp "#define IW_COMMIT \"${commit}\"\n")
file(COPY_FILE ${OUTPUT}.tmp ${OUTPUT} ONLY_IF_DIFFERENT)
file(REMOVE ${OUTPUT}.tmp)
