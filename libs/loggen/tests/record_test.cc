#include "iw/loggen/record.h"

#include <gtest/gtest.h>

#include <chrono>

namespace iw::loggen {
namespace {

using namespace std::chrono_literals;

// 2025-09-15T10:30:00.000Z
constexpr base::TimePoint kT0{std::chrono::seconds{1'757'932'200}};

std::string timestamp(base::TimePoint t) {
  std::string out;
  append_connector_timestamp(out, t);
  return out;
}

std::string number(double value) {
  std::string out;
  append_json_double(out, value);
  return out;
}

TEST(ConnectorTimestamp, IsNaiveWithSpaceAndMillisecondsTruncated) {
  EXPECT_EQ(timestamp(kT0), "2025-09-15 10:30:00.000");
  EXPECT_EQ(timestamp(kT0 + 1154ms + 999us), "2025-09-15 10:30:01.154");
  EXPECT_EQ(timestamp(base::TimePoint{std::chrono::seconds{0}}), "1970-01-01 00:00:00.000");
  EXPECT_EQ(timestamp(kT0 + std::chrono::days{108} + 13h + 29min + 59s + 999ms),
            "2026-01-01 23:59:59.999");
}

TEST(JsonDouble, WritesShortestDigitsWithAFractionLikePython) {
  EXPECT_EQ(number(1.154133), "1.154133");
  EXPECT_EQ(number(0.11), "0.11");
  EXPECT_EQ(number(2.0), "2.0");
  EXPECT_EQ(number(60.0), "60.0");
  EXPECT_EQ(number(-3.2), "-3.2");
  EXPECT_EQ(number(0.05), "0.05");
  EXPECT_EQ(number(1234567.5), "1234567.5");
}

TEST(AppendRecord, WritesTheBriefExampleByteForByte) {
  const RunRecord record{
      .id = 1224,
      .source = "PowerBI",
      .objet = "workspaces",
      .transformation = "PowerBI_API_get_data",
      .etat = "SUCCESS",
      .debut = kT0,
      .fin = kT0 + 1154ms,
      .duree_secondes = 1.154133,
      .cpu_time = 0.11,
      .memory_used = 5849088,
      .description = "",
      .zone = "1-Raw",
      .entreprise = "akonovia",
  };
  std::string out = "prefix|";
  append_record(out, record);
  EXPECT_EQ(out,
            "prefix|{\"ID\": 1224, \"Source\": \"PowerBI\", \"Objet\": \"workspaces\", "
            "\"Transformation\": \"PowerBI_API_get_data\", \"Etat\": \"SUCCESS\", "
            "\"Debut\": \"2025-09-15 10:30:00.000\", \"Fin\": \"2025-09-15 10:30:01.154\", "
            "\"Duree secondes\": 1.154133, \"cpu_time\": 0.11, \"memory_used\": 5849088, "
            "\"Description\": \"\", \"Zone\": \"1-Raw\", \"Entreprise\": \"akonovia\"}");
}

TEST(AppendRecord, EscapesStringsAndKeepsUtf8) {
  RunRecord record{.source = "Zoho",
                   .objet = "say \"hi\"",
                   .etat = "FAILED",
                   .debut = kT0,
                   .fin = kT0,
                   .description = "Erreur 401 : jeton expiré"};
  std::string out;
  append_record(out, record);
  EXPECT_NE(out.find("\"Objet\": \"say \\\"hi\\\"\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"Description\": \"Erreur 401 : jeton expiré\""), std::string::npos) << out;
}

}  // namespace
}  // namespace iw::loggen
