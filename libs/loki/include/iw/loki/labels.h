#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "iw/base/error.h"

namespace iw::loki {

/// One stream label. Loki identifies a stream by its whole label set.
struct Label {
  std::string name;
  std::string value;
  friend bool operator==(const Label&, const Label&) = default;
};

/// A stream's labels. The functions below keep it sorted by name, as Loki does.
using LabelSet = std::vector<Label>;

/// Loki's per-tenant label limits (limits_config), defaults as in Loki 3.
struct LabelLimits {
  std::size_t max_name_length = 1024;   ///< max_label_name_length
  std::size_t max_value_length = 2048;  ///< max_label_value_length
  std::size_t max_labels = 15;          ///< max_label_names_per_series
};

/// Whether `name` is a label name Loki accepts: [a-zA-Z_][a-zA-Z0-9_]*, the Prometheus syntax
/// that LogQL stream selectors can name.
[[nodiscard]] bool is_valid_label_name(std::string_view name);

/// Checks `labels` the way Loki's distributor does before accepting a stream: at least one
/// label, at most `max_labels`, valid and unique names within their length limit, values
/// non-empty (an empty value is no label for Loki, so sending one would name another stream
/// than the one meant), valid UTF-8 and within their length limit. kInvalidInput names the
/// first problem. `labels` must be sorted by name.
[[nodiscard]] base::Status validate_labels(const LabelSet& labels, const LabelLimits& limits = {});

/// Sorts by name (stable, so duplicates stay visible to validate_labels()).
void sort_labels(LabelSet& labels);

/// The stream selector Loki's push API takes and its messages quote: `{job="ingestion-logs",
/// source="PowerBI"}`, labels in the given order (sort first), ", " between them as Prometheus
/// prints label sets, values as Go string literals (`"` and `\` escaped, control characters as
/// \n, \t, \r or \xNN; other UTF-8 as is).
[[nodiscard]] std::string format_labels(const LabelSet& labels);

/// Reads a label set written by format_labels(), by Prometheus' `labels.String()` or by a Loki
/// client: `{a="b", c="d"}`, blanks around tokens, `,` with or without a space, values as Go
/// interpreted string literals (all of Go's escapes). Sorted by name on return. Does not apply
/// validate_labels(). kInvalidInput says where the text stops making sense. `consumed`, when
/// given, receives the length of the selector read (so it can be found inside longer text);
/// without it, anything after the closing brace is an error.
[[nodiscard]] base::Result<LabelSet> parse_labels(std::string_view text,
                                                  std::size_t* consumed = nullptr);

}  // namespace iw::loki
