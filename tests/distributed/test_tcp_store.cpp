// The rendezvous store: values cross clients, waits block until a key appears, every wait has a deadline, and
// the server notices which rank's process went away.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "core/error.h"
#include "dist_test_util.h"
#include "train/distributed/tcp_store.h"

namespace r1::dist {
namespace {

using namespace std::chrono_literals;

std::vector<char> bytes(const std::string& s) { return {s.begin(), s.end()}; }
std::string str(const std::vector<char>& v) { return {v.begin(), v.end()}; }

TEST(TcpStore, ValuesCrossClientsAndGetWaitsForALaterSet) {
  TcpStoreServer server(0);
  TcpStore a("127.0.0.1", server.port(), 5s), b("127.0.0.1", server.port(), 5s);
  a.set("x", bytes("hello"));
  EXPECT_EQ(str(b.get("x")), "hello");
  EXPECT_FALSE(b.check("later"));
  std::thread writer([&] {
    std::this_thread::sleep_for(100ms);
    a.set("later", bytes("v"));
  });
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(str(b.get("later")), "v");
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 90ms);
  writer.join();
}

TEST(TcpStore, AddIsAtomicAcrossClients) {
  TcpStoreServer server(0);
  std::vector<std::thread> ts;
  for (int t = 0; t < 2; t++)
    ts.emplace_back([&] {
      TcpStore c("127.0.0.1", server.port(), 5s);
      for (int i = 0; i < 100; i++) c.add("n", 1);
    });
  for (auto& t : ts) t.join();
  TcpStore c("127.0.0.1", server.port(), 5s);
  EXPECT_EQ(c.add("n", 0), 200);
}

TEST(TcpStore, MissingKeyTimesOutNamingTheKey) {
  TcpStoreServer server(0);
  TcpStore c("127.0.0.1", server.port(), 5s);
  const auto t0 = std::chrono::steady_clock::now();
  try {
    c.get("never", 200ms);
    FAIL() << "no timeout";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("key 'never' did not appear within 0.2 s"), std::string::npos) << e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
}

TEST(TcpStore, UnreachableServerIsAnErrorWithinTheTimeout) {
  const int port = test::free_port();
  const auto t0 = std::chrono::steady_clock::now();
  try {
    TcpStore c("127.0.0.1", port, 300ms);
    FAIL() << "connected to nothing";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("127.0.0.1:" + std::to_string(port)), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("did rank 0 start"), std::string::npos) << e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
}

TEST(TcpStore, ServerNamesTheRanksWhoseConnectionClosed) {
  TcpStoreServer server(0);
  TcpStore observer("127.0.0.1", server.port(), 5s);
  {
    TcpStore r1("127.0.0.1", server.port(), 5s);
    r1.register_rank(1);
    TcpStore r2("127.0.0.1", server.port(), 5s);
    r2.register_rank(2);
    EXPECT_TRUE(observer.exited_ranks(3).empty());
  }  // both "processes" go away
  observer.get(TcpStore::exited_key(1), 2s);
  observer.get(TcpStore::exited_key(2), 2s);
  EXPECT_EQ(observer.exited_ranks(3), (std::vector<int>{1, 2}));
}

TEST(TcpStore, LostServerIsAnErrorNotAHang) {
  auto server = std::make_unique<TcpStoreServer>(0);
  TcpStore c("127.0.0.1", server->port(), 1s);
  c.set("a", bytes("1"));
  server.reset();
  EXPECT_THROW(c.get("b", 5s), Error);
}

}  // namespace
}  // namespace r1::dist
