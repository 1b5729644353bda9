#include "train/distributed/tcp_store.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>

#include "core/error.h"
#include "train/distributed/env.h"

namespace r1::dist {

namespace {

// Wire format, both directions little-endian native (all ranks of a job share an architecture):
//   request:  op u8 | key_len u32 | key | value_len u64 | value | arg i64 (timeout ms for get, delta for add)
//   response: status u8 | value_len u64 | value
enum Op : uint8_t { kSet = 1, kGet = 2, kAdd = 3, kCheck = 4, kHello = 5 };
enum Status : uint8_t { kOk = 0, kTimeout = 1, kMissing = 2 };
constexpr uint64_t kMaxValue = uint64_t(1) << 30;

// Full-length send/recv; false when the peer closed or the socket failed (errno says why).
bool send_all(int fd, const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t k = ::send(fd, p, n, MSG_NOSIGNAL);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return false;
    p += k, n -= size_t(k);
  }
  return true;
}
bool recv_all(int fd, void* data, size_t n) {
  char* p = static_cast<char*>(data);
  while (n > 0) {
    const ssize_t k = ::recv(fd, p, n, 0);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return false;
    p += k, n -= size_t(k);
  }
  return true;
}

std::string errno_text() { return errno ? std::string(std::strerror(errno)) : std::string("connection closed"); }

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// Server: one thread accepting, one thread per client (a job has few ranks); waits on a condition variable.
// ---------------------------------------------------------------------------------------------------------------

struct TcpStoreServer::State {
  int listen_fd = -1;
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::condition_variable changed;
  std::map<std::string, std::vector<char>> data;
  std::vector<int> client_fds;
  std::vector<std::thread> threads;
  std::thread acceptor;

  void serve(int fd) {
    int rank = -1;  // set by kHello
    serve_requests(fd, &rank);
    if (rank >= 0) {
      std::lock_guard lock(mu);
      data[TcpStore::exited_key(rank)] = {'1'};
      changed.notify_all();
    }
  }

  void serve_requests(int fd, int* rank) {
    while (!stop) {
      uint8_t op = 0;
      uint32_t klen = 0;
      uint64_t vlen = 0;
      int64_t arg = 0;
      if (!recv_all(fd, &op, 1) || !recv_all(fd, &klen, 4) || klen > kMaxValue) return;
      std::string key(klen, '\0');
      if (!recv_all(fd, key.data(), klen) || !recv_all(fd, &vlen, 8) || vlen > kMaxValue) return;
      std::vector<char> value(vlen);
      if (!recv_all(fd, value.data(), vlen) || !recv_all(fd, &arg, 8)) return;
      uint8_t status = kOk;
      std::vector<char> out;
      {
        std::unique_lock lock(mu);
        if (op == kSet) {
          data[key] = std::move(value);
          changed.notify_all();
        } else if (op == kGet) {
          const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(arg);
          const bool found = changed.wait_until(lock, deadline, [&] { return stop || data.count(key) > 0; });
          if (found && data.count(key)) out = data[key];
          else status = kTimeout;
        } else if (op == kAdd) {
          int64_t v = 0;
          auto it = data.find(key);
          if (it != data.end() && it->second.size() == 8) std::memcpy(&v, it->second.data(), 8);
          v += arg;
          std::vector<char> bytes(8);
          std::memcpy(bytes.data(), &v, 8);
          data[key] = bytes;
          out = bytes;
          changed.notify_all();
        } else if (op == kCheck) {
          status = data.count(key) ? kOk : kMissing;
        } else if (op == kHello) {
          *rank = int(arg);
        } else {
          return;  // a stranger on the port: drop it
        }
      }
      const uint64_t olen = out.size();
      if (!send_all(fd, &status, 1) || !send_all(fd, &olen, 8) || !send_all(fd, out.data(), olen)) return;
    }
  }

  void accept_loop() {
    while (!stop) {
      pollfd p{listen_fd, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      const int fd = ::accept(listen_fd, nullptr, nullptr);
      if (fd < 0) continue;
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      std::lock_guard lock(mu);
      client_fds.push_back(fd);
      threads.emplace_back([this, fd] { serve(fd); });
    }
  }
};

TcpStoreServer::TcpStoreServer(int port, const std::string& port_origin) : state_(std::make_unique<State>()) {
  const int fd = ::socket(AF_INET6, SOCK_STREAM, 0);
  const bool v6 = fd >= 0;
  const int lfd = v6 ? fd : ::socket(AF_INET, SOCK_STREAM, 0);
  if (lfd < 0) throw Error("TCP store: cannot create a socket: " + errno_text());
  const int one = 1, zero = 0;
  ::setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  int rc;
  if (v6) {
    ::setsockopt(lfd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);  // accept IPv4 clients too
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_any;
    a.sin6_port = htons(uint16_t(port));
    rc = ::bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  } else {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_ANY);
    a.sin_port = htons(uint16_t(port));
    rc = ::bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  }
  if (rc != 0 || ::listen(lfd, 128) != 0) {
    const std::string why = errno_text();
    ::close(lfd);
    throw Error("TCP store: cannot listen on port " + std::to_string(port) + " (" + port_origin + "): " + why);
  }
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  ::getsockname(lfd, reinterpret_cast<sockaddr*>(&bound), &len);
  port_ = bound.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                                      : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  state_->listen_fd = lfd;
  state_->acceptor = std::thread([s = state_.get()] { s->accept_loop(); });
}

TcpStoreServer::~TcpStoreServer() {
  state_->stop = true;
  state_->changed.notify_all();
  state_->acceptor.join();
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(state_->mu);
    for (int fd : state_->client_fds) ::shutdown(fd, SHUT_RDWR);  // unblocks the clients' recv
    threads.swap(state_->threads);
  }
  state_->changed.notify_all();
  for (auto& t : threads) t.join();
  for (int fd : state_->client_fds) ::close(fd);
  ::close(state_->listen_fd);
}

// ---------------------------------------------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------------------------------------------

TcpStore::TcpStore(const std::string& host, int port, std::chrono::milliseconds timeout)
    : address_(host + ":" + std::to_string(port)), timeout_(timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string last_error = "no attempt";
  while (true) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    const int gai = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
    if (gai != 0) throw Error("MASTER_ADDR: cannot resolve '" + host + "': " + ::gai_strerror(gai));
    for (addrinfo* ai = res; ai && fd_ < 0; ai = ai->ai_next) {
      const int fd = ::socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
      if (fd < 0) continue;
      if (::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
        fd_ = fd;
      } else {
        last_error = errno_text();
        ::close(fd);
      }
    }
    ::freeaddrinfo(res);
    if (fd_ >= 0) break;
    if (std::chrono::steady_clock::now() >= deadline)
      throw Error("TCP store at " + address_ + " (MASTER_ADDR and the store port) unreachable for " +
                  seconds_text(timeout.count() / 1000.0) + ": " + last_error + " (did rank 0 start?)");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

TcpStore::~TcpStore() {
  if (fd_ >= 0) ::close(fd_);
}

uint8_t TcpStore::request(uint8_t op, const std::string& key, const std::vector<char>& value, int64_t arg,
                          std::vector<char>* out) {
  // The socket's receive timeout bounds every wait on the server: a server that hangs is an error too.
  const int64_t wait_ms = (op == kGet ? arg : 0) + timeout_.count() + 1000;
  timeval tv{time_t(wait_ms / 1000), suseconds_t((wait_ms % 1000) * 1000)};
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const uint32_t klen = uint32_t(key.size());
  const uint64_t vlen = value.size();
  uint8_t status = 0;
  uint64_t olen = 0;
  errno = 0;
  bool ok = send_all(fd_, &op, 1) && send_all(fd_, &klen, 4) && send_all(fd_, key.data(), klen) &&
            send_all(fd_, &vlen, 8) && send_all(fd_, value.data(), vlen) && send_all(fd_, &arg, 8) &&
            recv_all(fd_, &status, 1) && recv_all(fd_, &olen, 8) && olen <= kMaxValue;
  if (ok) {
    out->resize(olen);
    ok = recv_all(fd_, out->data(), olen);
  }
  if (!ok)
    throw Error("TCP store at " + address_ + ": lost the connection while accessing key '" + key +
                "': " + errno_text() + " (rank 0, which serves the store, exited or hung?)");
  return status;
}

void TcpStore::set(const std::string& key, const std::vector<char>& value) {
  std::vector<char> out;
  request(kSet, key, value, 0, &out);
}

std::vector<char> TcpStore::get(const std::string& key) { return get(key, timeout_); }

std::vector<char> TcpStore::get(const std::string& key, std::chrono::milliseconds timeout) {
  std::vector<char> out;
  if (request(kGet, key, {}, timeout.count(), &out) != kOk)
    throw Error("TCP store at " + address_ + ": key '" + key + "' did not appear within " +
                seconds_text(timeout.count() / 1000.0) + " (R1_DIST_TIMEOUT)");
  return out;
}

int64_t TcpStore::add(const std::string& key, int64_t delta) {
  std::vector<char> out;
  request(kAdd, key, {}, delta, &out);
  int64_t v = 0;
  if (out.size() == 8) std::memcpy(&v, out.data(), 8);
  return v;
}

bool TcpStore::check(const std::string& key) {
  std::vector<char> out;
  return request(kCheck, key, {}, 0, &out) == kOk;
}

void TcpStore::register_rank(int rank) {
  std::vector<char> out;
  request(kHello, "", {}, rank, &out);
}

std::vector<int> TcpStore::exited_ranks(int world) {
  std::vector<int> out;
  try {
    for (int r = 0; r < world; r++)
      if (check(exited_key(r))) out.push_back(r);
  } catch (const Error&) {
    return {};
  }
  return out;
}

void TcpStore::wait(const std::vector<std::string>& keys, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (const std::string& k : keys) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    get(k, std::max(left, std::chrono::milliseconds(0)));
  }
}

}  // namespace r1::dist
