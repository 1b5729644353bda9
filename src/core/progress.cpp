#include "core/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/log.h"

namespace r1 {
namespace {

constexpr int kDefaultColumns = 100;
constexpr int kMinBarWidth = 10;
constexpr int kMaxBarWidth = 30;

double steady_seconds() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

int terminal_columns(std::FILE* out) {
  winsize ws{};
  if (ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return kDefaultColumns;
}

// Display width of UTF-8 text: one column per code point (the bar's block characters are single-width).
int display_width(const std::string& s) {
  int w = 0;
  for (unsigned char c : s) w += (c & 0xC0) != 0x80;
  return w;
}

// Cuts UTF-8 text to `columns` code points, never inside a multi-byte character.
std::string truncate_display(const std::string& s, int columns) {
  int w = 0;
  for (size_t i = 0; i < s.size(); i++) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80 && w++ == columns) return s.substr(0, i);
  }
  return s;
}

// A bar of `width` cells filled to `fraction`, with eighth-block characters for the partial cell.
std::string bar(double fraction, int width) {
  static const char* kEighths[] = {"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"};
  fraction = std::clamp(fraction, 0.0, 1.0);
  const int eighths = int(fraction * width * 8);
  const int full = eighths / 8, part = eighths % 8;
  std::string s = "|";
  for (int i = 0; i < full; i++) s += "█";
  int used = full;
  if (part > 0) s += kEighths[part], used++;
  s.append(width - used, ' ');
  return s + "|";
}

}  // namespace

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const int64_t s = int64_t(seconds + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", (long long)(s / 3600), (long long)(s / 60 % 60),
                  (long long)(s % 60));
  else
    std::snprintf(buf, sizeof buf, "%lld:%02lld", (long long)(s / 60), (long long)(s % 60));
  return buf;
}

std::string format_rate(double per_second, const std::string& unit) {
  char buf[64];
  if (!std::isfinite(per_second) || per_second <= 0)
    std::snprintf(buf, sizeof buf, "? %s/s", unit.c_str());
  else if (per_second >= 100)
    std::snprintf(buf, sizeof buf, "%.0f %s/s", per_second, unit.c_str());
  else if (per_second >= 1)
    std::snprintf(buf, sizeof buf, "%.2f %s/s", per_second, unit.c_str());
  else
    std::snprintf(buf, sizeof buf, "%.2f s/%s", 1.0 / per_second, unit.c_str());
  return buf;
}

ProgressBar::ProgressBar(std::string label, int64_t total, std::FILE* out)
    : ProgressBar(std::move(label), total, out, ProgressOptions{}) {}

ProgressBar::ProgressBar(std::string label, int64_t total, std::FILE* out, ProgressOptions options)
    : label_(std::move(label)), total_(total), out_(out), options_(std::move(options)) {
  switch (options_.mode) {
    case ProgressOptions::Mode::Redraw: redraw_ = true; break;
    case ProgressOptions::Mode::Plain: redraw_ = false; break;
    case ProgressOptions::Mode::Auto: redraw_ = isatty(fileno(out_)) != 0; break;
  }
  start_ = now();
  done_ = last_plain_done_ = options_.initial;
}

ProgressBar::~ProgressBar() {
  try {
    finish();
  } catch (...) {
    // Output errors while unwinding are not worth a terminate().
  }
}

double ProgressBar::now() const { return options_.clock ? options_.clock() : steady_seconds(); }

double ProgressBar::elapsed_seconds() const { return std::max(0.0, now() - start_); }

double ProgressBar::rate() const {
  const double t = elapsed_seconds();
  const int64_t n = done_ - options_.initial;
  return (t > 0 && n > 0) ? double(n) / t : 0.0;
}

double ProgressBar::eta_seconds() const {
  const double r = rate();
  if (total_ <= 0 || r <= 0) return -1;
  return double(std::max<int64_t>(0, total_ - done_)) / r;
}

std::string ProgressBar::render(bool with_bar) const {
  std::string head = label_.empty() ? "" : label_ + " ";
  std::string tail;
  char buf[96];
  if (total_ > 0) {
    std::snprintf(buf, sizeof buf, "%lld/%lld", (long long)done_, (long long)total_);
    head += buf;
    std::snprintf(buf, sizeof buf, " %3.0f%%", 100.0 * double(done_) / double(total_));
    tail += buf;
  } else {
    head += std::to_string(done_);
  }
  tail += "  " + format_rate(rate(), options_.unit);
  tail += "  elapsed " + format_duration(elapsed_seconds());
  if (total_ > 0) tail += "  eta " + format_duration(eta_seconds());
  if (!fields_.empty()) {
    tail += " ";
    for (const auto& [key, value] : fields_) tail += " " + key + "=" + value;
  }
  if (!with_bar || total_ <= 0) return head + tail;
  const int columns = options_.columns > 0 ? options_.columns
                      : redraw_             ? terminal_columns(out_)
                                            : kDefaultColumns;
  const int room = columns - 1 - display_width(head) - display_width(tail) - 3;  // keep the cursor column free
  const int width = std::clamp(room, kMinBarWidth, kMaxBarWidth);
  // A line wider than the terminal wraps and \r can no longer erase it: cut the fields instead.
  return truncate_display(head + " " + bar(double(done_) / double(total_), width) + tail, columns - 1);
}

void ProgressBar::update(int64_t done, const Fields& fields) {
  if (finished_) return;
  done_ = done;
  fields_ = fields;
  const double t = now();
  if (redraw_) {
    if (last_draw_ < 0 || t - last_draw_ >= options_.min_redraw_seconds || (total_ > 0 && done_ >= total_)) {
      last_draw_ = t;
      draw(false);
    }
    return;
  }
  const bool first = last_draw_ < 0;
  const bool interval = t - last_draw_ >= options_.plain_interval_seconds;
  const bool fraction =
      total_ > 0 && double(done_ - last_plain_done_) >= options_.plain_fraction * double(total_);
  unprinted_ = true;
  if (first || interval || fraction) {
    last_draw_ = t;
    last_plain_done_ = done_;
    draw(false);
  }
}

void ProgressBar::finish() {
  if (finished_) return;
  finished_ = true;
  // A plain log already holding the final state needs no second copy of it.
  if (redraw_ || unprinted_ || last_draw_ < 0) draw(true);
}

void ProgressBar::draw(bool final) {
  if (!redraw_) {
    unprinted_ = false;
    const std::string line = render(false) + "\n";
    std::fwrite(line.data(), 1, line.size(), out_);
    std::fflush(out_);
    return;
  }
  const std::string line = render(true);
  if (out_ == log::sink()) {
    // Shared with the log: let it erase and redraw the line around messages.
    log::set_live_line(line);
    if (final) log::finish_live_line();
    return;
  }
  std::fputs(("\r" + line + "\033[K").c_str(), out_);
  if (final) std::fputs("\n", out_);
  std::fflush(out_);
}

}  // namespace r1
