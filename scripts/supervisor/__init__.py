"""The process supervisor behind scripts/stack and scripts/kafka-local (Python 3 standard library
only).

process.py     what both use: processes started detached (own session, no inherited fd, a
               marker in the environment, a pid file written before the exec), pid files checked
               against the live process, per-directory locks, the owner/TTL watchdog loop,
               SIGTERM then SIGKILL after a grace, free loopback ports, HTTP probes.
kafka_local.py scripts/kafka-local: one real Kafka broker (KRaft) for tests and local runs.
stack.py       scripts/stack: the whole local stack in one run directory.
"""
