#include "dlq_tool.h"

int main(int argc, char** argv) { return iw::dlq::run_tool(argc, argv); }
