#include "iw/loki/labels.h"

#include <gtest/gtest.h>

#include <string>

namespace iw::loki {
namespace {

TEST(LabelNameTest, PrometheusSyntax) {
  EXPECT_TRUE(is_valid_label_name("job"));
  EXPECT_TRUE(is_valid_label_name("_private"));
  EXPECT_TRUE(is_valid_label_name("zone_2"));
  EXPECT_FALSE(is_valid_label_name(""));
  EXPECT_FALSE(is_valid_label_name("2zone"));
  EXPECT_FALSE(is_valid_label_name("zone-name"));
  EXPECT_FALSE(is_valid_label_name("zoné"));
}

TEST(ValidateLabelsTest, AcceptsASortedValidSet) {
  EXPECT_TRUE(validate_labels({{"etat", "SUCCESS"}, {"job", "ingestion-logs"}, {"source", "é"}}));
}

TEST(ValidateLabelsTest, NamesTheFirstProblem) {
  auto message = [](const LabelSet& labels, LabelLimits limits = {}) {
    auto status = validate_labels(labels, limits);
    EXPECT_FALSE(status);
    if (status) return std::string();
    EXPECT_EQ(status.error().code(), base::ErrorCode::kInvalidInput);
    return status.error().message();
  };
  EXPECT_EQ(message({}), "a stream needs at least one label");
  EXPECT_EQ(message({{"a", "1"}, {"b", "2"}, {"c", "3"}}, {.max_labels = 2}),
            "3 labels, more than the limit of 2");
  EXPECT_EQ(message({{"bad-name", "1"}}), "label name 'bad-name' is not [a-zA-Z_][a-zA-Z0-9_]*");
  EXPECT_EQ(message({{"abcd", "1"}}, {.max_name_length = 3}),
            "label name 'abcd...' is longer than 3 bytes");
  EXPECT_EQ(message({{"a", "1"}, {"a", "2"}}), "label a appears twice");
  EXPECT_EQ(message({{"b", "1"}, {"a", "2"}}), "labels are not sorted by name");
  EXPECT_EQ(message({{"a", ""}}), "label a has an empty value");
  EXPECT_EQ(message({{"a", "12345"}}, {.max_value_length = 4}),
            "label a has a value of 5 bytes, more than the limit of 4");
  EXPECT_EQ(message({{"a", "\xC3"}}), "label a has a value that is not valid UTF-8");
}

TEST(SortLabelsTest, ByNameKeepingDuplicatesInOrder) {
  LabelSet labels = {{"z", "1"}, {"a", "first"}, {"m", "2"}, {"a", "second"}};
  sort_labels(labels);
  EXPECT_EQ(labels, (LabelSet{{"a", "first"}, {"a", "second"}, {"m", "2"}, {"z", "1"}}));
}

TEST(FormatLabelsTest, PrometheusStyleWithGoEscapes) {
  EXPECT_EQ(format_labels({}), "{}");
  EXPECT_EQ(format_labels({{"job", "ingestion-logs"}, {"source", "PowerBI"}}),
            R"({job="ingestion-logs", source="PowerBI"})");
  EXPECT_EQ(format_labels({{"a", "say \"hi\"\\ \n\t\r\x01\x7f é"}}),
            R"({a="say \"hi\"\\ \n\t\r\x01\x7f é"})");
}

TEST(ParseLabelsTest, ReadsWhatFormatWrites) {
  const LabelSet labels = {{"a", "say \"hi\"\\ \n\t\r\x01\x7f é"}, {"b", "x"}};
  EXPECT_EQ(parse_labels(format_labels(labels)), labels);
}

TEST(ParseLabelsTest, ReadsPrometheusAndClientSpellings) {
  const LabelSet expected = {{"job", "j"}, {"source", "s"}};
  EXPECT_EQ(parse_labels(R"({job="j", source="s"})"), expected);
  EXPECT_EQ(parse_labels(R"({source="s",job="j"})"), expected);  // sorted on return
  EXPECT_EQ(parse_labels(R"(  { job = "j" ,source=`s` }  )"), expected);
  EXPECT_EQ(parse_labels("{}"), LabelSet{});
}

TEST(ParseLabelsTest, GoEscapes) {
  EXPECT_EQ(parse_labels(R"({a="\x41\101\u00e9\U0001F600\a\b\f\v\""})"),
            (LabelSet{{"a", "AA\xC3\xA9\xF0\x9F\x98\x80\a\b\f\v\""}}));
}

TEST(ParseLabelsTest, ConsumedFindsTheSelectorInLongerText) {
  std::size_t consumed = 0;
  const std::string_view text = R"({a="}'"}' while adding)";
  EXPECT_EQ(parse_labels(text, &consumed), (LabelSet{{"a", "}'"}}));
  EXPECT_EQ(text.substr(consumed), "' while adding");
}

TEST(ParseLabelsTest, Errors) {
  auto message = [](std::string_view text) {
    auto labels = parse_labels(text);
    EXPECT_FALSE(labels) << text;
    return labels ? std::string() : labels.error().message();
  };
  EXPECT_EQ(message("job=\"x\""), "label selector at offset 0: expected '{'");
  EXPECT_EQ(message("{job=x}"), "label selector at offset 5: expected a quoted label value");
  EXPECT_EQ(message("{job=\"x"), "label selector at offset 7: unterminated label value");
  EXPECT_EQ(message("{job=\"x\" a=\"b\"}"), "label selector at offset 9: expected ',' or '}'");
  EXPECT_EQ(message("{job=\"x\"} and"), "label selector at offset 10: text after the closing '}'");
  EXPECT_EQ(message(R"({a="\q"})"), "label selector at offset 6: unknown escape \\q");
  EXPECT_EQ(message(R"({a="\uD800"})"), "label selector at offset 10: bad unicode escape");
  EXPECT_EQ(message("{1a=\"x\"}"), "label selector at offset 1: expected a label name");
}

}  // namespace
}  // namespace iw::loki
