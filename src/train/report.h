// report.html: a run's results in one self-contained page (no scripts, no CDN: it opens from a laptop's
// disk or a CI artifact). Inline SVG line plots of the metrics over steps, with axis ticks and, for noisy
// series, a moving average over the raw curve; a table of first/last/min/max/best values; the final
// numbers; free-text sections; the resolved config; and the last few samples.
#pragma once
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "train/metrics.h"

namespace r1 {

struct ReportOptions {
  std::string title;                 // default: "r1 run <directory name>"
  std::vector<std::string> metrics;  // which metrics to plot, in order; empty: all, most telling first
  // Final numbers shown at the top as a table ("held-out accuracy", "62.5%"). Entries of
  // run_dir/summary.json (a flat JSON object) are added after these, so a trainer can leave its final
  // numbers in the run and `write_report` run later still shows them.
  std::vector<std::pair<std::string, std::string>> summary;
  std::vector<std::pair<std::string, std::string>> sections;  // (heading, plain text) — escaped, kept as typed
  int samples = 3;  // how many of the last samples.jsonl records to show
};

// Reads run_dir/metrics.jsonl (and config.yaml, summary.json, samples.jsonl when present) and writes
// run_dir/report.html atomically. Returns the report's path.
std::filesystem::path write_report(const std::filesystem::path& run_dir, const ReportOptions& options = {});

// The page itself, from records already read; `config_yaml` and `samples` (JSONL lines) may be empty.
std::string render_report(const std::vector<MetricsRecord>& records, const ReportOptions& options,
                          const std::string& config_yaml = "", const std::vector<std::string>& samples = {});

// One plot: a polyline of class "series" with one point per finite (x, y); NaN points are left out.
std::string svg_line_plot(const std::string& title, const std::vector<double>& xs, const std::vector<double>& ys);

// Round tick positions (steps of 1, 2 or 5 times a power of ten) covering [lo, hi], about `target` of them.
std::vector<double> nice_ticks(double lo, double hi, int target = 5);

std::string html_escape(std::string_view text);

}  // namespace r1
