#include "enricher_service.h"

int main(int argc, char** argv) {
  iw::enricher::EnricherService service;
  return iw::runtime::run_service(iw::enricher::enricher_info(), service, argc, argv);
}
