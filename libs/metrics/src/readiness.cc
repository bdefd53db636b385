#include "iw/metrics/readiness.h"

#include <algorithm>
#include <utility>

#include "iw/base/check.h"

namespace iw::metrics {
namespace {

// The report is one line of plain text; a multi-line reason (say, a dependency's error body)
// would break that shape, so each run of control characters becomes one space.
std::string one_line(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool in_control_run = false;
  for (char c : text) {
    const bool control = static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
    if (!control) {
      out += c;
    } else if (!in_control_run) {
      out += ' ';
    }
    in_control_run = control;
  }
  return out;
}

}  // namespace

Readiness::Readiness(std::vector<std::string> checks) {
  checks_.reserve(checks.size());
  for (std::string& name : checks) {
    IW_CHECK(!name.empty(), "readiness check names must be non-empty");
    IW_CHECK(std::ranges::none_of(checks_, [&](const Check& c) { return c.name == name; }),
             "readiness check declared twice: " + name);
    checks_.push_back(Check{.name = std::move(name), .ok = false, .reason = "pending"});
  }
}

void Readiness::set_ready(std::string_view check) { set(check, true, {}); }

void Readiness::set_not_ready(std::string_view check, std::string_view reason) {
  set(check, false, reason);
}

void Readiness::set(std::string_view check, bool ok, std::string_view reason) {
  IW_CHECK(!check.empty(), "readiness check names must be non-empty");
  std::string text = ok ? std::string() : one_line(reason);
  std::lock_guard lock(mu_);
  auto it = std::ranges::find(checks_, check, &Check::name);
  if (it == checks_.end()) {
    checks_.push_back(Check{.name = std::string(check), .ok = ok, .reason = std::move(text)});
    return;
  }
  it->ok = ok;
  it->reason = std::move(text);
}

bool Readiness::ready() const {
  std::lock_guard lock(mu_);
  return std::ranges::all_of(checks_, &Check::ok);
}

Readiness::Report Readiness::report() const {
  std::lock_guard lock(mu_);
  Report report{.ready = true, .text = {}};
  for (const Check& check : checks_) {
    if (check.ok) continue;
    report.text += report.ready ? "not ready: " : "; ";
    report.ready = false;
    report.text += check.name;
    if (!check.reason.empty()) {
      report.text += ": ";
      report.text += check.reason;
    }
  }
  if (report.ready) report.text = "ready";
  return report;
}

}  // namespace iw::metrics
