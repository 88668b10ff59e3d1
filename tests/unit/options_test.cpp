// Option negotiation: client request, server policy, and the client's OACK check.
#include <gtest/gtest.h>

#include <string>

#include "tftp/codec.hpp"
#include "tftp/options.hpp"

namespace tftp {
namespace {

OptionList opts(std::initializer_list<std::pair<const char*, const char*>> pairs) {
  OptionList list;
  for (const auto& [name, value] : pairs) list.push_back({name, value});
  return list;
}

ServerAnswer serve_read(const OptionList& requested, std::optional<std::uint64_t> size = 1000,
                        ServerPolicy policy = {}) {
  return negotiate(policy, requested, Direction::read, size);
}

TEST(ClientOptions, BuildsRequestInFixedOrderAndClamps) {
  EXPECT_EQ(make_request_options({.block_size = 1428, .window_size = 8, .timeout_s = 3, .tsize = 0}),
            opts({{"blksize", "1428"}, {"timeout", "3"}, {"tsize", "0"}, {"windowsize", "8"}}));
  EXPECT_EQ(make_request_options({.block_size = 65535, .window_size = 0}),
            opts({{"blksize", "65464"}, {"windowsize", "1"}}));
  EXPECT_EQ(make_request_options({.block_size = 2, .timeout_s = 0}), opts({{"blksize", "8"}, {"timeout", "1"}}));
  EXPECT_TRUE(make_request_options({}).empty());
}

TEST(OackCheck, AcceptsWhatWasRequestedOrLess) {
  const auto requested = opts({{"blksize", "1428"}, {"tsize", "0"}, {"windowsize", "16"}, {"timeout", "2"}});
  auto result = check_oack(requested, opts({{"BLKSIZE", "1024"}, {"tsize", "123"}, {"windowsize", "4"}, {"timeout", "2"}}));
  ASSERT_TRUE(result) << result.error_code().message();
  EXPECT_EQ(*result, (Negotiated{.block_size = 1024, .window_size = 4, .timeout_s = 2, .tsize = 123}));
  // Options the server left out keep their defaults.
  auto partial = check_oack(requested, opts({{"tsize", "5"}}));
  ASSERT_TRUE(partial);
  EXPECT_EQ(*partial, (Negotiated{.block_size = 512, .window_size = 1, .timeout_s = std::nullopt, .tsize = 5}));
}

TEST(OackCheck, RefusesViolations) {
  const auto requested = opts({{"blksize", "1428"}, {"windowsize", "8"}, {"timeout", "3"}});
  EXPECT_EQ(check_oack(requested, opts({{"tsize", "1"}})).error(), errc::option_not_requested);
  EXPECT_EQ(check_oack(requested, opts({{"blksizeFOO", "512"}})).error(), errc::option_not_requested);
  EXPECT_EQ(check_oack(requested, opts({{"blksize", "1429"}})).error(), errc::option_out_of_range);
  EXPECT_EQ(check_oack(requested, opts({{"blksize", "7"}})).error(), errc::option_out_of_range);
  EXPECT_EQ(check_oack(requested, opts({{"blksize", "0"}})).error(), errc::option_out_of_range);
  EXPECT_EQ(check_oack(requested, opts({{"windowsize", "9"}})).error(), errc::option_out_of_range);
  EXPECT_EQ(check_oack(requested, opts({{"windowsize", "0"}})).error(), errc::option_out_of_range);
  EXPECT_EQ(check_oack(requested, opts({{"timeout", "4"}})).error(), errc::option_out_of_range);
  EXPECT_EQ(check_oack(requested, opts({{"timeout", "2"}})).error(), errc::option_out_of_range);
  EXPECT_EQ(check_oack(requested, opts({{"blksize", "abc"}})).error(), errc::option_out_of_range);
  EXPECT_EQ(check_oack({}, opts({{"blksize", "512"}})).error(), errc::option_not_requested);
  EXPECT_TRUE(check_oack(requested, opts({{"blksize", "8"}})));
  EXPECT_TRUE(check_oack(requested, opts({{"blksize", "1428"}, {"windowsize", "8"}, {"timeout", "3"}})));
}

// --refuse (tftpd-hpa -r): a refused option is left out of the OACK as if unknown; the others keep their
// place and spelling.
TEST(ServerPolicy, RefusedOptionsAreLeftOutAsIfUnknown) {
  const auto asked = opts({{"blksize", "1428"}, {"tsize", "0"}, {"windowsize", "8"}, {"timeout", "3"}});
  ServerPolicy policy;
  EXPECT_TRUE(refuse_option(policy.refused, "TSIZE"));
  EXPECT_FALSE(refuse_option(policy.refused, "multicast"));
  auto answer = serve_read(asked, 1000, policy);
  EXPECT_EQ(answer.oack, opts({{"blksize", "1428"}, {"windowsize", "8"}, {"timeout", "3"}}));
  EXPECT_EQ(answer.negotiated.tsize, std::nullopt);
  EXPECT_TRUE(refuse_option(policy.refused, "blksize"));
  EXPECT_TRUE(refuse_option(policy.refused, "windowsize"));
  EXPECT_TRUE(refuse_option(policy.refused, "timeout"));
  answer = serve_read(asked, 1000, policy);
  EXPECT_TRUE(answer.oack.empty());  // nothing left: RFC 1350 start, DATA 1 at once
  EXPECT_EQ(answer.negotiated, Negotiated{});
  // A refused tsize on a WRQ is not checked against the upload limit either (the sink still is).
  policy.max_upload = 10;
  const auto write = negotiate(policy, opts({{"tsize", "5000"}}), Direction::write, std::nullopt);
  EXPECT_FALSE(write.refusal);
  EXPECT_TRUE(write.oack.empty());
}

TEST(ServerPolicy, BlksizeEdges) {
  struct Case {
    const char* asked;
    std::optional<std::uint16_t> granted;
  };
  const Case cases[] = {{"0", std::nullopt}, {"7", std::nullopt}, {"8", 8},        {"512", 512},
                        {"65464", 65464},    {"65465", 65464},    {"99999", 65464}, {"18446744073709551615", 65464}};
  for (const auto& c : cases) {
    auto answer = serve_read(opts({{"blksize", c.asked}}), std::nullopt);
    if (c.granted) {
      EXPECT_EQ(answer.oack, opts({{"blksize", std::to_string(*c.granted).c_str()}})) << c.asked;
      EXPECT_EQ(answer.negotiated.block_size, *c.granted);
    } else {
      EXPECT_TRUE(answer.oack.empty()) << c.asked;
      EXPECT_EQ(answer.negotiated.block_size, 512);
    }
    EXPECT_FALSE(answer.refusal);
  }
}

TEST(ServerPolicy, ConfiguredMaximumsLowerTheGrant) {
  const ServerPolicy policy{.max_block_size = 1428, .max_window_size = 4, .min_timeout_s = 1, .max_timeout_s = 10};
  auto answer = serve_read(opts({{"blksize", "8192"}, {"windowsize", "64"}, {"timeout", "30"}}), std::nullopt, policy);
  EXPECT_EQ(answer.oack, opts({{"blksize", "1428"}, {"windowsize", "4"}}));
  EXPECT_EQ(answer.negotiated, (Negotiated{.block_size = 1428, .window_size = 4}));
}

TEST(ServerPolicy, OnlyRequestedKnownOptionsInRequestOrderWithClientSpelling) {
  auto answer = serve_read(opts({{"x-unknown", "1"}, {"WindowSize", "8"}, {"tsize", "0"}, {"blksizeFOO", "9"},
                                 {"TIMEOUT", "5"}}),
                           4242);
  EXPECT_EQ(answer.oack, opts({{"WindowSize", "8"}, {"tsize", "4242"}, {"TIMEOUT", "5"}}));
  EXPECT_EQ(answer.negotiated, (Negotiated{.block_size = 512, .window_size = 8, .timeout_s = 5, .tsize = 4242}));
}

TEST(ServerPolicy, NoOackWhenNothingAccepted) {
  auto answer = serve_read(opts({{"blksize", "7"}, {"windowsize", "0"}, {"timeout", "0"}, {"timeout2", "1"}}));
  EXPECT_TRUE(answer.oack.empty());
  EXPECT_EQ(answer.negotiated, Negotiated{});
  EXPECT_TRUE(serve_read({}).oack.empty());
}

TEST(ServerPolicy, TimeoutOutsideRangeIgnored) {
  EXPECT_TRUE(serve_read(opts({{"timeout", "256"}})).oack.empty());
  EXPECT_EQ(serve_read(opts({{"timeout", "255"}})).oack, opts({{"timeout", "255"}}));
  EXPECT_EQ(serve_read(opts({{"timeout", "1"}})).oack, opts({{"timeout", "1"}}));
}

TEST(ServerPolicy, TsizeOnReadAnswersTheRealSize) {
  EXPECT_EQ(serve_read(opts({{"tsize", "0"}}), 0).oack, opts({{"tsize", "0"}}));
  EXPECT_EQ(serve_read(opts({{"tsize", "0"}}), 123456789012ULL).oack, opts({{"tsize", "123456789012"}}));
  EXPECT_TRUE(serve_read(opts({{"tsize", "0"}}), std::nullopt).oack.empty());  // size unknown: no answer
}

TEST(ServerPolicy, TsizeOnWriteCheckedAgainstUploadLimit) {
  const ServerPolicy policy{.max_upload = 1000};
  auto fits = negotiate(policy, opts({{"blksize", "1024"}, {"tsize", "1000"}}), Direction::write, std::nullopt);
  EXPECT_FALSE(fits.refusal);
  EXPECT_EQ(fits.oack, opts({{"blksize", "1024"}, {"tsize", "1000"}}));
  EXPECT_EQ(fits.negotiated.tsize, 1000U);
  auto over = negotiate(policy, opts({{"blksize", "1024"}, {"tsize", "1001"}}), Direction::write, std::nullopt);
  ASSERT_TRUE(over.refusal);
  EXPECT_EQ(over.refusal->code, ErrorCode::disk_full);
  EXPECT_TRUE(over.oack.empty());
  auto no_limit = negotiate({}, opts({{"tsize", "18446744073709551615"}}), Direction::write, std::nullopt);
  EXPECT_FALSE(no_limit.refusal);
}

TEST(Negotiation, ClientAcceptsEveryOackTheServerProduces) {
  const ServerPolicy policies[] = {{}, {.max_block_size = 1428, .max_window_size = 4}, {.max_block_size = 8}};
  for (std::uint16_t blksize : {std::uint16_t{8}, std::uint16_t{512}, std::uint16_t{1428}, std::uint16_t{8192}, std::uint16_t{65464}}) {
    for (std::uint16_t window : {std::uint16_t{1}, std::uint16_t{4}, std::uint16_t{16}, std::uint16_t{65535}}) {
      for (const auto& policy : policies) {
        const auto requested = make_request_options({.block_size = blksize, .window_size = window, .timeout_s = 3, .tsize = 0});
        auto answer = negotiate(policy, requested, Direction::read, 777);
        auto checked = check_oack(requested, answer.oack);
        ASSERT_TRUE(checked) << blksize << "/" << window;
        EXPECT_EQ(*checked, answer.negotiated);
        EXPECT_LE(checked->block_size, std::min(blksize, policy.max_block_size));
      }
    }
  }
}

}  // namespace
}  // namespace tftp
