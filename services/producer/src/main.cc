#include "producer_service.h"

int main(int argc, char** argv) {
  iw::producer::ProducerService service;
  const int status = iw::runtime::run_service(iw::producer::producer_info(), service, argc, argv);
  // A run a signal stopped part-way is no success, nor a failure to retry from the start: its
  // own status, so that a job wrapper can resume it (docs/PRODUCER.md).
  return status != 0 && service.interrupted() ? iw::producer::kExitInterrupted : status;
}
