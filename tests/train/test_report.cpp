// report.html: self-contained, one SVG per metric with one polyline point per finite value, escaped text.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <regex>

#include "train/metrics.h"
#include "train/report.h"
#include "train/run_dir.h"

using namespace r1;
using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

namespace {

int count(const std::string& s, const std::string& what) {
  int n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + what.size())) n++;
  return n;
}

// The number of "x,y" pairs in the polyline of class `cls` inside the SVG whose title starts with `title`.
int polyline_points(const std::string& html, const std::string& title, const std::string& cls = "series") {
  const size_t start = html.find(">" + title);
  if (start == std::string::npos) return -1;
  const size_t end = html.find("</svg>", start);
  const std::string svg = html.substr(start, end - start);
  const std::string key = "class=\"" + cls + "\"";
  const size_t line = svg.find(key);
  if (line == std::string::npos) return -1;
  const size_t p0 = svg.find("points=\"", line) + 8;
  const std::string points = svg.substr(p0, svg.find('"', p0) - p0);
  std::regex pair("-?[0-9.]+,-?[0-9.]+");
  return int(std::distance(std::sregex_iterator(points.begin(), points.end(), pair), std::sregex_iterator()));
}

}  // namespace

TEST(Report, NiceTicksAreRoundAndCoverTheRange) {
  EXPECT_EQ(nice_ticks(0, 1, 5), (std::vector<double>{0, 0.2, 0.4, 0.6000000000000001, 0.8, 1}));
  const auto t = nice_ticks(3, 97, 5);
  EXPECT_EQ(t.front(), 20);
  EXPECT_EQ(t.back(), 80);
  EXPECT_EQ(t[1] - t[0], 20);
  EXPECT_EQ(nice_ticks(-0.013, 0.021, 4), (std::vector<double>{-0.01, 0, 0.01, 0.02}));
}

TEST(Report, HtmlEscapeCoversMarkupCharacters) {
  EXPECT_EQ(html_escape("<a href=\"x\">&'</a>"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
}

TEST(Report, OneSvgPerMetricWithOnePointPerFiniteValue) {
  const fs::path dir = fs::temp_directory_path() / ("r1_test_report_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  {
    MetricsWriter w(dir, MetricsOptions{.tensorboard = false, .resume_from_step = std::nullopt});
    for (int s = 1; s <= 40; s++) {
      std::map<std::string, double> m = {{"reward/mean", 0.1 + 0.01 * s}, {"loss", 2.0 / s}};
      if (s % 10 == 0) m["accuracy"] = 0.05 * s;              // logged every 10 steps: 4 points
      if (s == 7) m["loss"] = std::numeric_limits<double>::quiet_NaN();  // left out of the plot
      w.log(s, m);
    }
  }
  write_file_atomic(dir / "config.yaml", "name: <script>alert(1)</script>\n");
  write_file_atomic(dir / "summary.json", R"({"held-out accuracy": "62.5%"})");
  write_file_atomic(dir / "samples.jsonl", "{\"completion\": \"<think>2+2</think><answer>4</answer>\"}\n");
  ReportOptions options;
  options.summary = {{"format rate", "97%"}};
  options.sections = {{"Notes & caveats", "seed <1>\nsecond line"}};
  const fs::path path = write_report(dir, options);
  ASSERT_EQ(path, dir / "report.html");
  const std::string html = read_file(path);

  EXPECT_EQ(count(html, "<svg"), 3);
  EXPECT_EQ(polyline_points(html, "reward/mean"), 40);
  EXPECT_EQ(polyline_points(html, "reward/mean", "smooth"), 40);  // long series get a moving average too
  EXPECT_EQ(polyline_points(html, "loss"), 39);
  EXPECT_EQ(polyline_points(html, "accuracy"), 4);
  EXPECT_EQ(polyline_points(html, "accuracy", "smooth"), -1);
  // Default order puts reward and accuracy before loss.
  EXPECT_LT(html.find(">reward/mean"), html.find(">loss"));
  EXPECT_LT(html.find(">accuracy"), html.find(">loss"));
  // Axis ticks exist, and the summary table has first/last/best.
  EXPECT_GE(count(html, "class=\"ytick\""), 3);
  EXPECT_GE(count(html, "class=\"xtick\""), 3);
  EXPECT_THAT(html, HasSubstr("<td>accuracy</td><td>0.5</td><td>2</td>"));
  EXPECT_THAT(html, HasSubstr("<td>loss</td><td>2</td><td>0.05</td><td>0.05 (40)</td><td>2 (1)</td><td>0.05</td>"));
  // Final numbers from the options and from summary.json.
  EXPECT_THAT(html, HasSubstr("<td>format rate</td><td>97%</td>"));
  EXPECT_THAT(html, HasSubstr("<td>held-out accuracy</td><td>62.5%</td>"));
  // Everything user-provided is escaped; nothing is loaded from elsewhere.
  EXPECT_THAT(html, HasSubstr("&lt;script&gt;alert(1)&lt;/script&gt;"));
  EXPECT_THAT(html, HasSubstr("Notes &amp; caveats"));
  EXPECT_THAT(html, HasSubstr("seed &lt;1&gt;\nsecond line"));
  EXPECT_THAT(html, HasSubstr("&lt;think&gt;2+2&lt;/think&gt;"));
  EXPECT_THAT(html, Not(HasSubstr("<script")));
  EXPECT_THAT(html, Not(HasSubstr("src=")));
  EXPECT_THAT(html, Not(HasSubstr("https://")));
  fs::remove_all(dir);
}

TEST(Report, ChosenMetricsOnlyAndEmptySeriesSaySo) {
  std::vector<MetricsRecord> records(3);
  for (int i = 0; i < 3; i++) records[i].step = i, records[i].values = {{"a", double(i)}, {"b", NAN}, {"c", 1.0}};
  ReportOptions options;
  options.metrics = {"b", "a"};
  const std::string html = render_report(records, options);
  EXPECT_EQ(count(html, "<svg"), 2);
  EXPECT_LT(html.find(">b"), html.find(">a"));
  EXPECT_THAT(html, HasSubstr("no finite values"));
  EXPECT_EQ(polyline_points(html, "a"), 3);
  // A constant series still gets a y range (no division by zero in the scaling).
  const std::string flat = svg_line_plot("c", {0, 1, 2}, {1, 1, 1});
  EXPECT_THAT(flat, Not(HasSubstr("nan")));
  EXPECT_THAT(flat, Not(HasSubstr("inf")));
}
