// ProgressBar and log: rate/ETA arithmetic, throttled redraws on a terminal, sparse plain lines in logs.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "core/log.h"
#include "core/progress.h"

using namespace r1;
using ::testing::HasSubstr;

namespace {

// A FILE* collecting output in memory.
struct MemoryStream {
  char* buf = nullptr;
  size_t size = 0;
  std::FILE* f = open_memstream(&buf, &size);
  ~MemoryStream() {
    std::fclose(f);
    std::free(buf);
  }
  std::string text() {
    std::fflush(f);
    return std::string(buf, size);
  }
};

int count(const std::string& s, const std::string& what) {
  int n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + what.size())) n++;
  return n;
}

ProgressOptions fake_clock_options(double* t, ProgressOptions::Mode mode) {
  ProgressOptions o;
  o.mode = mode;
  o.clock = [t] { return *t; };
  o.columns = 120;
  return o;
}

}  // namespace

TEST(Progress, DurationAndRateFormats) {
  EXPECT_EQ(format_duration(7), "0:07");
  EXPECT_EQ(format_duration(723), "12:03");
  EXPECT_EQ(format_duration(3723), "1:02:03");
  EXPECT_EQ(format_duration(-1), "?");
  EXPECT_EQ(format_rate(12.5), "12.50 it/s");
  EXPECT_EQ(format_rate(0.25, "step"), "4.00 s/step");  // slow loops read better as seconds per item
  EXPECT_EQ(format_rate(0), "? it/s");
}

TEST(Progress, AutoModeIsPlainWhenNotATerminal) {
  MemoryStream out;
  ProgressBar bar("x", 10, out.f);  // a memory stream, like a CI log, is no TTY
  EXPECT_FALSE(bar.redraws());
  bar.update(1);
  bar.finish();
  EXPECT_EQ(out.text().find('\r'), std::string::npos);
}

TEST(Progress, RateAndEtaFollowTheClock) {
  double t = 100;
  MemoryStream out;
  ProgressBar bar("train", 100, out.f, fake_clock_options(&t, ProgressOptions::Mode::Plain));
  t = 110;
  bar.update(20, {{"reward", "0.52"}, {"acc", "41%"}});
  EXPECT_DOUBLE_EQ(bar.rate(), 2.0);
  EXPECT_DOUBLE_EQ(bar.eta_seconds(), 40.0);
  const std::string line = bar.render(false);
  EXPECT_THAT(line, HasSubstr("train 20/100"));
  EXPECT_THAT(line, HasSubstr("20%"));
  EXPECT_THAT(line, HasSubstr("2.00 it/s"));
  EXPECT_THAT(line, HasSubstr("elapsed 0:10"));
  EXPECT_THAT(line, HasSubstr("eta 0:40"));
  EXPECT_THAT(line, HasSubstr("reward=0.52 acc=41%"));
}

TEST(Progress, ResumedBarCountsOnlyNewItemsInTheRate) {
  double t = 0;
  MemoryStream out;
  ProgressOptions o = fake_clock_options(&t, ProgressOptions::Mode::Plain);
  o.initial = 50;
  ProgressBar bar("train", 100, out.f, o);
  t = 5;
  bar.update(60);
  EXPECT_DOUBLE_EQ(bar.rate(), 2.0);
  EXPECT_DOUBLE_EQ(bar.eta_seconds(), 20.0);
}

TEST(Progress, PlainModePrintsFirstEveryTenPercentAndEnd) {
  double t = 0;
  MemoryStream out;
  {
    ProgressBar bar("job", 1000, out.f, fake_clock_options(&t, ProgressOptions::Mode::Plain));
    for (int i = 1; i <= 999; i++) {
      t += 0.001;  // fast: the 30 s interval never triggers
      bar.update(i);
    }
    t += 0.001;
    bar.update(1000);
    bar.finish();
    bar.finish();  // idempotent
  }
  const std::string text = out.text();
  EXPECT_EQ(text.find('\r'), std::string::npos);  // no terminal control in logs
  // First update, then 10 crossings of 10% (100, 200, ..., 1000); finish adds nothing new.
  EXPECT_EQ(count(text, "\n"), 11) << text;
  EXPECT_THAT(text, HasSubstr("job 1/1000"));
  EXPECT_THAT(text, HasSubstr("job 1000/1000 100%"));
}

TEST(Progress, PlainModePrintsOnTheTimeIntervalForSlowJobs) {
  double t = 0;
  MemoryStream out;
  ProgressOptions o = fake_clock_options(&t, ProgressOptions::Mode::Plain);
  o.plain_interval_seconds = 30;
  ProgressBar bar("slow", 1000, out.f, o);
  for (int i = 1; i <= 10; i++) {  // 1% each 20 s: only the clock makes lines appear
    t += 20;
    bar.update(i);
  }
  // First update at 20 s, then at 60, 100, 140, 180 (each >= 30 s after the previous line).
  EXPECT_EQ(count(out.text(), "\n"), 5) << out.text();
}

TEST(Progress, RedrawModeThrottlesAndEndsWithNewline) {
  double t = 0;
  MemoryStream out;
  ProgressBar bar("gen", 50, out.f, fake_clock_options(&t, ProgressOptions::Mode::Redraw));
  for (int i = 1; i <= 49; i++) {
    t += 0.01;  // 100 updates/s: ~1 in 10 may draw
    bar.update(i, {{"tok/s", "123"}});
  }
  t += 0.01;
  bar.update(50);  // the last update always draws
  bar.finish();
  const std::string text = out.text();
  const int draws = count(text, "\r");
  EXPECT_GE(draws, 5);
  EXPECT_LE(draws, 8);
  EXPECT_EQ(text.back(), '\n');
  EXPECT_EQ(count(text, "\n"), 1);
  EXPECT_THAT(text, HasSubstr("50/50"));
  EXPECT_THAT(text, HasSubstr("█"));
}

TEST(Progress, RedrawLineFitsTheTerminalWidth) {
  double t = 0;
  MemoryStream out;
  ProgressOptions o = fake_clock_options(&t, ProgressOptions::Mode::Redraw);
  o.columns = 60;
  ProgressBar bar("train", 10, out.f, o);
  t = 1;
  bar.update(5, {{"a_very_long_field_name", "with a very long value that cannot fit in sixty columns"}});
  const std::string line = bar.render(true);
  int width = 0;
  for (unsigned char c : line) width += (c & 0xC0) != 0x80;
  EXPECT_LE(width, 59);  // a wrapped line could not be erased with \r
  EXPECT_THAT(line, HasSubstr("train 5/10 |"));
}

TEST(Progress, UnknownTotalShowsCountAndRateOnly) {
  double t = 0;
  MemoryStream out;
  ProgressBar bar("read", 0, out.f, fake_clock_options(&t, ProgressOptions::Mode::Plain));
  t = 4;
  bar.update(8);
  const std::string line = bar.render(true);
  EXPECT_THAT(line, HasSubstr("read 8"));
  EXPECT_THAT(line, HasSubstr("2.00 it/s"));
  EXPECT_THAT(line, ::testing::Not(HasSubstr("eta")));
  EXPECT_THAT(line, ::testing::Not(HasSubstr("%")));
}

TEST(Log, LevelsFilterAndLinesCarryTimestampAndLevel) {
  MemoryStream out;
  log::set_sink(out.f);
  const log::Level saved = log::level();
  log::set_level(log::Level::Warn);
  log::info("hidden ", 1);
  log::warn("loss is ", 0.5, " at step ", 3);
  log::error("bad");
  log::set_level(saved);
  log::set_sink(nullptr);
  const std::string text = out.text();
  EXPECT_EQ(text.find("hidden"), std::string::npos);
  EXPECT_THAT(text, HasSubstr("WARN  loss is 0.5 at step 3\n"));
  EXPECT_THAT(text, HasSubstr("ERROR bad\n"));
  EXPECT_EQ(text[4], '-');  // "2025-01-31 14:02:07.412 ..."
  EXPECT_EQ(text[13], ':');
  EXPECT_EQ(log::parse_level("DEBUG"), log::Level::Debug);
  EXPECT_EQ(log::parse_level("warning"), log::Level::Warn);
  EXPECT_THROW(log::parse_level("loud"), Error);
}

TEST(Log, MessagesScrollAboveTheLiveProgressLine) {
  MemoryStream out;
  log::set_sink(out.f);
  const log::Level saved = log::level();
  log::set_level(log::Level::Info);
  {
    double t = 0;
    ProgressBar bar("rl", 10, out.f, fake_clock_options(&t, ProgressOptions::Mode::Redraw));
    t = 1;
    bar.update(3);
    log::info("checkpoint saved");
    t = 2;
    bar.update(10);
  }
  log::set_level(saved);
  log::set_sink(nullptr);
  const std::string text = out.text();
  // The message erases the bar's line, prints, then redraws the bar below it.
  const size_t msg = text.find("checkpoint saved");
  ASSERT_NE(msg, std::string::npos);
  EXPECT_NE(text.rfind("\r\033[K", msg), std::string::npos);
  EXPECT_NE(text.find("rl 3/10", msg), std::string::npos);
  EXPECT_EQ(text.back(), '\n');
}
