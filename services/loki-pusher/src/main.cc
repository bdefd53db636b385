#include "loki_pusher_service.h"

int main(int argc, char** argv) {
  iw::loki_pusher::LokiPusherService service;
  return iw::runtime::run_service(iw::loki_pusher::pusher_info(), service, argc, argv);
}
