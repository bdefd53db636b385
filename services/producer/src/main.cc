#include "producer_service.h"

int main(int argc, char** argv) {
  iw::producer::ProducerService service;
  return iw::runtime::run_service(iw::producer::producer_info(), service, argc, argv);
}
