// ProgressBar: one status line for long jobs — done/total, percentage, a bar, rate, elapsed time, ETA and
// custom fields ("reward=0.52 acc=41%").
// On a terminal the line is redrawn in place with \r, at most ~10 times a second, so a fast loop costs
// nothing. Anywhere else (CI logs, `> train.log`) redrawing would fill the file, so a plain line is printed
// at the first update, then whenever 10% more is done or 30 s have passed, and at the end.
#pragma once
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace r1 {

struct ProgressOptions {
  enum class Mode { Auto, Redraw, Plain };
  Mode mode = Mode::Auto;              // Auto: Redraw when the stream is a terminal
  double min_redraw_seconds = 0.1;     // Redraw mode: at most this often (the last update always draws)
  double plain_interval_seconds = 30;  // Plain mode: a line at least this often...
  double plain_fraction = 0.1;         // ...and each time this fraction of total more is done
  int columns = 0;                     // line width; 0: the terminal's width (Redraw), else 100
  int64_t initial = 0;                 // items already done when the bar starts (resume): not in the rate
  std::string unit = "it";             // "it/s", "step/s", "tok/s"...
  std::function<double()> clock;       // monotonic seconds; empty: steady_clock (tests inject a fake)
};

class ProgressBar {
 public:
  using Fields = std::vector<std::pair<std::string, std::string>>;

  ProgressBar(std::string label, int64_t total, std::FILE* out = stderr);
  ProgressBar(std::string label, int64_t total, std::FILE* out, ProgressOptions options);
  ~ProgressBar();  // finishes the bar if finish() was not called
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  // Records that `done` items are complete (total <= 0 means unknown: no bar, percentage or ETA). Fields
  // replace the previous ones and are shown in order as key=value.
  void update(int64_t done, const Fields& fields = {});
  // Draws the final state and ends the line. Idempotent.
  void finish();

  // The line as it would be drawn now; with_bar false gives the plain form used for logs.
  std::string render(bool with_bar) const;
  double elapsed_seconds() const;
  double rate() const;         // items per second since the bar started; 0 before any progress
  double eta_seconds() const;  // negative when unknown
  bool redraws() const { return redraw_; }

 private:
  double now() const;
  void draw(bool final);

  std::string label_;
  int64_t total_;
  std::FILE* out_;
  ProgressOptions options_;
  bool redraw_ = false;
  bool finished_ = false;
  double start_ = 0;
  int64_t done_ = 0;
  Fields fields_;
  double last_draw_ = -1;      // time of the last draw, -1: never
  int64_t last_plain_done_ = 0;
  bool unprinted_ = false;     // Plain mode: an update since the last printed line
};

// "0:07", "12:03", "1:02:03"; "?" for negative or non-finite values.
std::string format_duration(double seconds);
// "12.5 it/s" for fast loops, "4.20 s/it" for slow ones (an RL step takes seconds); "? it/s" when unknown.
std::string format_rate(double per_second, const std::string& unit = "it");

}  // namespace r1
