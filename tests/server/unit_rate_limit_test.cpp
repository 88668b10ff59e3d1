// TokenBucket: a burst, then the rate; time is a parameter.
#include <gtest/gtest.h>

#include "tftp/token_bucket.hpp"

namespace tftp::server {
namespace {

using namespace std::chrono_literals;

TEST(TokenBucket, ABurstThenTheRate) {
  TokenBucket bucket(10, 3);
  const TokenBucket::Clock::time_point t0{};
  EXPECT_TRUE(bucket.take(t0));
  EXPECT_TRUE(bucket.take(t0));
  EXPECT_TRUE(bucket.take(t0));
  EXPECT_FALSE(bucket.take(t0));
  EXPECT_FALSE(bucket.take(t0 + 50ms));  // half a token
  EXPECT_TRUE(bucket.take(t0 + 100ms));
  EXPECT_FALSE(bucket.take(t0 + 100ms));
  // A long pause refills to the burst, no more.
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(bucket.take(t0 + 60s));
  EXPECT_FALSE(bucket.take(t0 + 60s));
}

}  // namespace
}  // namespace tftp::server
