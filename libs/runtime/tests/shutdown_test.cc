#include "iw/runtime/shutdown.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>

namespace iw::runtime {
namespace {

using namespace std::chrono_literals;

TEST(ShutdownSignalTest, SigtermRequestsAStopAndWakesWaiters) {
  ShutdownSignal shutdown;
  EXPECT_FALSE(shutdown.requested());
  EXPECT_FALSE(shutdown.wait_for(10ms));
  ASSERT_EQ(kill(getpid(), SIGTERM), 0);
  EXPECT_TRUE(shutdown.wait_for(10s));
  EXPECT_TRUE(shutdown.requested());
  EXPECT_EQ(shutdown.signal_number(), SIGTERM);
}

TEST(ShutdownSignalTest, CodeCanRequestAStop) {
  ShutdownSignal shutdown;
  shutdown.request();
  EXPECT_TRUE(shutdown.wait_for(0ms));
  EXPECT_EQ(shutdown.signal_number(), 0);
}

}  // namespace
}  // namespace iw::runtime
