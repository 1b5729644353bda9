#include "train/report.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <ctime>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/error.h"
#include "train/run_dir.h"

namespace fs = std::filesystem;

namespace r1 {
namespace {

// Plot geometry (SVG user units).
constexpr double kWidth = 460, kHeight = 250;
constexpr double kLeft = 58, kRight = 14, kTop = 30, kBottom = 34;
constexpr size_t kSmoothFrom = 15;  // series at least this long also get a moving average

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

std::string format_value(double v) {
  if (std::isnan(v)) return "—";
  char buf[32];
  if (v == std::floor(v) && std::fabs(v) < 1e7)
    std::snprintf(buf, sizeof buf, "%.0f", v);
  else
    std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

// Which way is better, guessed from the metric's name: +1 higher, -1 lower, 0 neither (lengths, lr...).
int better_direction(const std::string& name) {
  for (const char* s : {"reward", "acc", "format", "pass@", "pass_", "cons@", "score", "correct"})
    if (name.find(s) != std::string::npos) return +1;
  for (const char* s : {"loss", "error", "perplexity"})
    if (name.find(s) != std::string::npos) return -1;
  return 0;
}

// Default plot order: the curves a reader looks for first.
int priority(const std::string& name) {
  static const std::array<const char*, 11> kOrder = {"reward", "acc",  "format", "length", "kl",  "loss",
                                                     "entropy", "clip", "grad",   "lr",     "time"};
  for (size_t i = 0; i < kOrder.size(); i++)
    if (name.find(kOrder[i]) != std::string::npos) return int(i);
  return int(kOrder.size());
}

std::vector<double> moving_average(const std::vector<double>& ys, size_t window) {
  std::vector<double> out(ys.size());
  double sum = 0;
  for (size_t i = 0; i < ys.size(); i++) {
    sum += ys[i];
    if (i >= window) sum -= ys[i - window];
    out[i] = sum / double(std::min(i + 1, window));
  }
  return out;
}

std::string table_row(const std::vector<std::string>& cells, bool header = false) {
  std::string row = "<tr>";
  for (const auto& c : cells) row += (header ? "<th>" : "<td>") + c + (header ? "</th>" : "</td>");
  return row + "</tr>\n";
}

const char* kStyle = R"(
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 24px; color: #1f2328; }
h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 28px; border-bottom: 1px solid #d0d7de; }
.meta { color: #59636e; font-size: 13px; }
.plots { display: flex; flex-wrap: wrap; gap: 12px; }
.plots svg { border: 1px solid #d0d7de; border-radius: 6px; background: #fff; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border: 1px solid #d0d7de; padding: 4px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f6f8fa; }
pre { background: #f6f8fa; padding: 10px; border-radius: 6px; white-space: pre-wrap; font-size: 12px; }
.summary td { font-size: 15px; }
)";

}  // namespace

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) return {};
  if (hi < lo) std::swap(lo, hi);
  double span = hi - lo;
  if (span <= 0) span = std::fabs(lo) > 0 ? std::fabs(lo) : 1.0;
  const double raw = span / std::max(1, target);
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double norm = raw / magnitude;
  const double step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * magnitude;
  std::vector<double> ticks;
  for (double v = std::ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step)
    ticks.push_back(std::fabs(v) < step * 1e-9 ? 0.0 : v);  // no "-0" or "5.55e-17" labels
  return ticks;
}

std::string svg_line_plot(const std::string& title, const std::vector<double>& xs, const std::vector<double>& ys) {
  R1_CHECK(xs.size() == ys.size(), "plot needs one x per y");
  std::vector<double> px, py;
  for (size_t i = 0; i < xs.size(); i++)
    if (std::isfinite(xs[i]) && std::isfinite(ys[i])) px.push_back(xs[i]), py.push_back(ys[i]);

  std::ostringstream s;
  s << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << kWidth << "\" height=\"" << kHeight
    << "\" viewBox=\"0 0 " << kWidth << " " << kHeight << "\" font-size=\"11\">\n";
  std::string heading = html_escape(title);
  if (!py.empty()) heading += " <tspan fill=\"#59636e\">(last " + format_value(py.back()) + ")</tspan>";
  s << "<text x=\"" << kLeft << "\" y=\"18\" font-size=\"13\" font-weight=\"600\">" << heading << "</text>\n";
  if (px.empty()) {
    s << "<text x=\"" << kWidth / 2 << "\" y=\"" << kHeight / 2 << "\" text-anchor=\"middle\" fill=\"#59636e\">no finite values</text>\n</svg>\n";
    return s.str();
  }

  // x spans the data; y is widened to the nearest round ticks so the curve never touches the frame.
  double x0 = *std::min_element(px.begin(), px.end()), x1 = *std::max_element(px.begin(), px.end());
  if (x1 == x0) x0 -= 1, x1 += 1;
  double y0 = *std::min_element(py.begin(), py.end()), y1 = *std::max_element(py.begin(), py.end());
  if (y1 == y0) {
    const double pad = std::fabs(y0) > 0 ? std::fabs(y0) * 0.1 : 1.0;
    y0 -= pad, y1 += pad;
  }
  std::vector<double> yticks = nice_ticks(y0, y1, 5);
  if (yticks.size() >= 2) {
    const double step = yticks[1] - yticks[0];
    y0 = std::min(y0, yticks.front() - (yticks.front() > y0 ? step : 0));
    y1 = std::max(y1, yticks.back() + (yticks.back() < y1 ? step : 0));
    yticks = nice_ticks(y0, y1, 5);
  }
  const double pw = kWidth - kLeft - kRight, ph = kHeight - kTop - kBottom;
  auto sx = [&](double x) { return kLeft + (x - x0) / (x1 - x0) * pw; };
  auto sy = [&](double y) { return kTop + (1 - (y - y0) / (y1 - y0)) * ph; };

  s << "<rect x=\"" << kLeft << "\" y=\"" << kTop << "\" width=\"" << pw << "\" height=\"" << ph
    << "\" fill=\"none\" stroke=\"#8c959f\"/>\n";
  for (double t : yticks) {
    if (t < y0 || t > y1) continue;
    s << "<line x1=\"" << kLeft << "\" x2=\"" << kLeft + pw << "\" y1=\"" << num(sy(t)) << "\" y2=\"" << num(sy(t))
      << "\" stroke=\"#eaeef2\"/><text x=\"" << kLeft - 5 << "\" y=\"" << num(sy(t) + 4)
      << "\" text-anchor=\"end\" class=\"ytick\">" << format_value(t) << "</text>\n";
  }
  for (double t : nice_ticks(x0, x1, 6)) {
    s << "<line x1=\"" << num(sx(t)) << "\" x2=\"" << num(sx(t)) << "\" y1=\"" << kTop + ph << "\" y2=\""
      << kTop + ph + 4 << "\" stroke=\"#8c959f\"/><text x=\"" << num(sx(t)) << "\" y=\"" << kTop + ph + 16
      << "\" text-anchor=\"middle\" class=\"xtick\">" << format_value(t) << "</text>\n";
  }
  s << "<text x=\"" << kLeft + pw / 2 << "\" y=\"" << kHeight - 4 << "\" text-anchor=\"middle\" fill=\"#59636e\">step</text>\n";

  const bool smooth = px.size() >= kSmoothFrom;
  auto polyline = [&](const std::vector<double>& ys_, const char* cls, const char* color, double width) {
    s << "<polyline class=\"" << cls << "\" fill=\"none\" stroke=\"" << color << "\" stroke-width=\"" << width
      << "\" points=\"";
    for (size_t i = 0; i < px.size(); i++) s << (i ? " " : "") << num(sx(px[i])) << "," << num(sy(ys_[i]));
    s << "\"/>\n";
  };
  polyline(py, "series", smooth ? "#93b4f5" : "#2563eb", smooth ? 1 : 1.8);
  if (smooth) polyline(moving_average(py, std::clamp<size_t>(px.size() / 15, 2, 50)), "smooth", "#1d4ed8", 2);
  if (px.size() <= 20)
    for (size_t i = 0; i < px.size(); i++)
      s << "<circle cx=\"" << num(sx(px[i])) << "\" cy=\"" << num(sy(py[i])) << "\" r=\"2.5\" fill=\"#2563eb\"/>\n";
  s << "</svg>\n";
  return s.str();
}

std::string render_report(const std::vector<MetricsRecord>& records, const ReportOptions& options,
                          const std::string& config_yaml, const std::vector<std::string>& samples) {
  // Which metrics: the chosen ones, or every one present, most telling first.
  std::vector<std::string> names = options.metrics;
  if (names.empty()) {
    std::set<std::string> all;
    for (const auto& r : records)
      for (const auto& [k, v] : r.values) all.insert(k);
    names.assign(all.begin(), all.end());
    std::stable_sort(names.begin(), names.end(),
                     [](const std::string& a, const std::string& b) { return priority(a) < priority(b); });
  }

  std::ostringstream h;
  const std::string title = options.title.empty() ? "r1 run" : options.title;
  h << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" << html_escape(title)
    << "</title>\n<style>" << kStyle << "</style>\n</head>\n<body>\n<h1>" << html_escape(title) << "</h1>\n";
  const std::time_t now = std::time(nullptr);
  char when[64];
  std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", std::localtime(&now));
  h << "<p class=\"meta\">" << records.size() << " logged steps";
  if (!records.empty()) h << " (" << records.front().step << " to " << records.back().step << ")";
  if (records.size() >= 2 && records.back().time > records.front().time)
    h << ", " << format_value((records.back().time - records.front().time) / 60.0) << " min";
  h << " · generated " << when << "</p>\n";

  if (!options.summary.empty()) {
    h << "<h2>Results</h2>\n<table class=\"summary\">\n";
    for (const auto& [k, v] : options.summary) h << table_row({html_escape(k), html_escape(v)});
    h << "</table>\n";
  }

  h << "<h2>Curves</h2>\n<div class=\"plots\">\n";
  std::string table = table_row({"metric", "first", "last", "min (step)", "max (step)", "best"}, true);
  for (const std::string& name : names) {
    std::vector<double> xs, ys;
    for (const auto& r : records)
      if (auto it = r.values.find(name); it != r.values.end()) xs.push_back(double(r.step)), ys.push_back(it->second);
    h << svg_line_plot(name, xs, ys);
    // First/last/min/max over finite values.
    double first = NAN, last = NAN, lo = NAN, hi = NAN, lo_step = 0, hi_step = 0;
    for (size_t i = 0; i < ys.size(); i++) {
      if (!std::isfinite(ys[i])) continue;
      if (std::isnan(first)) first = ys[i];
      last = ys[i];
      if (std::isnan(lo) || ys[i] < lo) lo = ys[i], lo_step = xs[i];
      if (std::isnan(hi) || ys[i] > hi) hi = ys[i], hi_step = xs[i];
    }
    const int dir = better_direction(name);
    const std::string best = dir > 0 ? format_value(hi) : dir < 0 ? format_value(lo) : "—";
    table += table_row({html_escape(name), format_value(first), format_value(last),
                        format_value(lo) + (std::isnan(lo) ? "" : " (" + format_value(lo_step) + ")"),
                        format_value(hi) + (std::isnan(hi) ? "" : " (" + format_value(hi_step) + ")"), best});
  }
  h << "</div>\n<h2>Summary</h2>\n<table>\n" << table << "</table>\n";

  for (const auto& [heading, text] : options.sections)
    h << "<h2>" << html_escape(heading) << "</h2>\n<pre>" << html_escape(text) << "</pre>\n";
  if (!samples.empty()) {
    h << "<h2>Samples</h2>\n";
    for (const std::string& line : samples) {
      const auto j = nlohmann::json::parse(line, nullptr, false);
      h << "<pre>" << html_escape(j.is_discarded() ? line : j.dump(2)) << "</pre>\n";
    }
  }
  if (!config_yaml.empty())
    h << "<h2>Config</h2>\n<details><summary>config.yaml</summary>\n<pre>" << html_escape(config_yaml)
      << "</pre>\n</details>\n";
  h << "</body>\n</html>\n";
  return h.str();
}

fs::path write_report(const fs::path& run_dir, const ReportOptions& options) {
  const fs::path metrics = run_dir / MetricsWriter::kFileName;
  const std::vector<MetricsRecord> records = fs::exists(metrics) ? read_metrics(metrics) : std::vector<MetricsRecord>{};

  ReportOptions opts = options;
  if (opts.title.empty()) {
    fs::path name = fs::absolute(run_dir).lexically_normal();
    if (name.filename().empty()) name = name.parent_path();  // "runs/x/"
    opts.title = "r1 run " + name.filename().string();
  }
  if (const fs::path summary = run_dir / "summary.json"; fs::exists(summary)) {
    const auto j = nlohmann::json::parse(read_file(summary), nullptr, false);
    if (j.is_discarded() || !j.is_object()) fail_in_file(summary.string(), "expected a JSON object of final numbers");
    for (const auto& [k, v] : j.items()) opts.summary.emplace_back(k, v.is_string() ? v.get<std::string>() : v.dump());
  }
  const std::string config = fs::exists(run_dir / "config.yaml") ? read_file(run_dir / "config.yaml") : "";

  std::vector<std::string> samples;
  if (const fs::path path = run_dir / "samples.jsonl"; opts.samples > 0 && fs::exists(path)) {
    std::istringstream in(read_file(path));
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) samples.push_back(line);
    if (samples.size() > size_t(opts.samples)) samples.erase(samples.begin(), samples.end() - opts.samples);
  }

  const fs::path out = run_dir / "report.html";
  write_file_atomic(out, render_report(records, opts, config, samples));
  return out;
}

}  // namespace r1
