// Leveled logging to stderr with a timestamp: "2025-01-31 14:02:07.412 WARN  message".
// The level comes from the environment variable R1_LOG (debug, info, warn, error, off; default info), read
// once on first use, so a long job can be made chatty without recompiling. Messages are whole lines written
// under one lock, so lines from threads never interleave; a live progress line (see progress.h) is cleared
// before a message and redrawn after it, so logs scroll above the bar instead of tearing it.
#pragma once
#include <cstdio>
#include <sstream>
#include <string>
#include <string_view>

namespace r1::log {

enum class Level { Debug = 0, Info = 1, Warn = 2, Error = 3, Off = 4 };

// "debug" | "info" | "warn" | "warning" | "error" | "off" (any case); throws r1::Error naming R1_LOG otherwise.
Level parse_level(std::string_view name);
const char* level_name(Level level);  // "DEBUG", "INFO", "WARN", "ERROR", "OFF"

Level level();  // current threshold: R1_LOG on first use, or what set_level chose
void set_level(Level level);
bool enabled(Level level);

// Where messages go (stderr unless changed; tests point it at a memory stream). Not owned.
void set_sink(std::FILE* sink);
std::FILE* sink();

// Writes one timestamped line if `level` is enabled. The message must not end in a newline.
void write(Level level, std::string_view message);

// The live status line at the bottom of the sink's terminal. The progress bar draws through these when it
// writes to the sink, so that write() can erase the line before a message and redraw it after.
void set_live_line(std::string line);  // (re)draws `line` in place with \r
void finish_live_line();               // ends the live line with a newline, leaving it in the scrollback

namespace detail {
template <typename... Args>
std::string concat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
}  // namespace detail

// log::info("step ", step, " loss ", loss) — arguments are streamed with operator<<, only when enabled.
template <typename... Args>
void debug(const Args&... args) {
  if (enabled(Level::Debug)) write(Level::Debug, detail::concat(args...));
}
template <typename... Args>
void info(const Args&... args) {
  if (enabled(Level::Info)) write(Level::Info, detail::concat(args...));
}
template <typename... Args>
void warn(const Args&... args) {
  if (enabled(Level::Warn)) write(Level::Warn, detail::concat(args...));
}
template <typename... Args>
void error(const Args&... args) {
  if (enabled(Level::Error)) write(Level::Error, detail::concat(args...));
}

}  // namespace r1::log
