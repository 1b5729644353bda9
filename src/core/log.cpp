#include "core/log.h"

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <mutex>

#include "core/error.h"

namespace r1::log {
namespace {

std::mutex g_mutex;                 // guards the sink's output and the live line
std::FILE* g_sink = nullptr;        // nullptr: stderr
std::string g_live;                 // the live line currently drawn (empty: none)
std::atomic<int> g_level{-1};       // -1: not yet read from R1_LOG

std::FILE* current_sink() { return g_sink ? g_sink : stderr; }

Level level_from_env() {
  const char* env = std::getenv("R1_LOG");
  if (!env || !*env) return Level::Info;
  return parse_level(env);
}

// "2025-01-31 14:02:07.412" in local time.
std::string timestamp() {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const std::time_t secs = system_clock::to_time_t(now);
  const int ms = int(duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000);
  std::tm tm{};
  localtime_r(&secs, &tm);
  char buf[40];
  const size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03d", ms);
  return buf;
}

}  // namespace

Level parse_level(std::string_view name) {
  std::string s;
  for (char c : name) s += char(std::tolower(static_cast<unsigned char>(c)));
  if (s == "debug") return Level::Debug;
  if (s == "info") return Level::Info;
  if (s == "warn" || s == "warning") return Level::Warn;
  if (s == "error") return Level::Error;
  if (s == "off" || s == "none") return Level::Off;
  throw Error("R1_LOG: unknown log level '" + std::string(name) + "' (expected debug, info, warn, error or off)");
}

const char* level_name(Level level) {
  switch (level) {
    case Level::Debug: return "DEBUG";
    case Level::Info: return "INFO";
    case Level::Warn: return "WARN";
    case Level::Error: return "ERROR";
    case Level::Off: return "OFF";
  }
  return "?";
}

Level level() {
  int l = g_level.load(std::memory_order_relaxed);
  if (l < 0) {
    Level from_env = Level::Info;
    try {
      from_env = level_from_env();
    } catch (const Error& e) {
      // A typo in R1_LOG must not kill a run: say so once and keep the default.
      std::fprintf(stderr, "%s\n", e.what());
    }
    int expected = -1;
    g_level.compare_exchange_strong(expected, int(from_env));
    l = g_level.load();
  }
  return Level(l);
}

void set_level(Level level) { g_level.store(int(level)); }

bool enabled(Level l) { return l != Level::Off && int(l) >= int(level()); }

void set_sink(std::FILE* sink) {
  std::lock_guard lock(g_mutex);
  g_sink = sink;
  g_live.clear();
}

std::FILE* sink() {
  std::lock_guard lock(g_mutex);
  return current_sink();
}

void write(Level level, std::string_view message) {
  if (!enabled(level)) return;
  std::string line = timestamp();
  line += ' ';
  const char* name = level_name(level);
  line += name;
  line.append(6 - std::char_traits<char>::length(name), ' ');  // align messages after "ERROR "
  line += message;
  line += '\n';
  std::lock_guard lock(g_mutex);
  std::FILE* out = current_sink();
  if (!g_live.empty()) std::fputs("\r\033[K", out);  // erase the live line, print above it, redraw it
  std::fwrite(line.data(), 1, line.size(), out);
  if (!g_live.empty()) std::fputs(g_live.c_str(), out);
  std::fflush(out);
}

void set_live_line(std::string line) {
  std::lock_guard lock(g_mutex);
  std::FILE* out = current_sink();
  std::fputs("\r", out);
  std::fputs(line.c_str(), out);
  std::fputs("\033[K", out);  // clear what a longer previous line left to the right
  std::fflush(out);
  g_live = std::move(line);
}

void finish_live_line() {
  std::lock_guard lock(g_mutex);
  if (g_live.empty()) return;
  std::fputs("\n", current_sink());
  std::fflush(current_sink());
  g_live.clear();
}

}  // namespace r1::log
