// A small key-value store over TCP: how the ranks of a job find each other. Rank 0 runs the server on
// MASTER_ADDR:MASTER_PORT (a thread inside the training process, as torchrun's c10d store does); every rank,
// rank 0 included, is a client. Gloo's rendezvous (each rank's transport address) and NCCL's unique id travel
// through it; nothing else does, so it carries a few kilobytes per job.
//
// Every blocking call has a deadline: a rank that never arrives, or a server that died, is an r1::Error naming
// the key, the address and the timeout, never a hang.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace r1::dist {

class TcpStoreServer {
 public:
  // Listens on all interfaces at `port` (0: any free port, see port()). r1::Error when the port is taken.
  // port_origin names where the port came from, for the error when it is taken ("MASTER_PORT").
  explicit TcpStoreServer(int port, const std::string& port_origin = "MASTER_PORT");
  ~TcpStoreServer();
  TcpStoreServer(const TcpStoreServer&) = delete;
  TcpStoreServer& operator=(const TcpStoreServer&) = delete;
  int port() const { return port_; }

 private:
  struct State;
  std::unique_ptr<State> state_;
  int port_ = 0;
};

class TcpStore {
 public:
  // Connects to host:port, retrying until `timeout` (the server may start after the clients).
  TcpStore(const std::string& host, int port, std::chrono::milliseconds timeout);
  ~TcpStore();
  TcpStore(const TcpStore&) = delete;
  TcpStore& operator=(const TcpStore&) = delete;

  void set(const std::string& key, const std::vector<char>& value);
  // Blocks until `key` exists (at most timeout()); r1::Error naming the key otherwise.
  std::vector<char> get(const std::string& key);
  std::vector<char> get(const std::string& key, std::chrono::milliseconds timeout);
  // Atomically adds `delta` to the integer stored at key (0 if absent) and returns the new value.
  int64_t add(const std::string& key, int64_t delta);
  // Whether `key` exists now (no waiting).
  bool check(const std::string& key);
  // Blocks until every key exists; the error names the first missing key.
  void wait(const std::vector<std::string>& keys, std::chrono::milliseconds timeout);

  // Tells the server that this connection belongs to `rank`: when it closes (the process exited or was killed)
  // the server sets the key exited_key(rank), so the surviving ranks can name the one that is gone.
  void register_rank(int rank);
  static std::string exited_key(int rank) { return "r1/exited/" + std::to_string(rank); }
  // Ranks below `world` whose connection closed (empty when the store itself is unreachable).
  std::vector<int> exited_ranks(int world);

  std::chrono::milliseconds timeout() const { return timeout_; }
  const std::string& address() const { return address_; }

 private:
  // One request/response round trip; returns the status byte and fills `out`.
  uint8_t request(uint8_t op, const std::string& key, const std::vector<char>& value, int64_t arg,
                  std::vector<char>* out);
  int fd_ = -1;
  std::string address_;
  std::chrono::milliseconds timeout_;
};

}  // namespace r1::dist
