# One real Kafka broker per test run, shared by every test that names FIXTURES kafka. The broker
# is started with the CTest process as its owner, so it stops by itself even if ctest is killed;
# the TTL is a second safety net.
set(IW_KAFKA_TEST_DIR ${CMAKE_BINARY_DIR}/kafka-test)
set(IW_KAFKA_LOCAL ${PROJECT_SOURCE_DIR}/scripts/kafka-local)
add_test(NAME kafka.broker.start
         COMMAND sh -c "exec '${IW_KAFKA_LOCAL}' start --dir '${IW_KAFKA_TEST_DIR}' --owner-pid $PPID --ttl 3600")
set_tests_properties(kafka.broker.start PROPERTIES FIXTURES_SETUP kafka LABELS integration
                     TIMEOUT 600)
add_test(NAME kafka.broker.stop COMMAND ${IW_KAFKA_LOCAL} stop --dir ${IW_KAFKA_TEST_DIR})
set_tests_properties(kafka.broker.stop PROPERTIES FIXTURES_CLEANUP kafka LABELS integration)
# Integration tests find the broker through this file.
set(IW_KAFKA_TEST_ENV IW_TEST_KAFKA_BOOTSTRAP_FILE=${IW_KAFKA_TEST_DIR}/bootstrap)
