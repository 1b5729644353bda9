// StringIndex: string -> id lookups over strings owned elsewhere (a vector indexed by id), as one flat
// open-addressing table of ids. Building it for a 150k-token vocabulary costs no allocation per token,
// which a node-based std::unordered_map<std::string, int> does (a large part of tokenizer load time).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace r1::tok {

class StringIndex {
 public:
  // Indexes nothing yet; `strings` must outlive the index and keep ids stable.
  explicit StringIndex(const std::vector<std::string>* strings = nullptr) : strings_(strings) {}
  void reset(const std::vector<std::string>* strings, size_t expected_size);
  // Maps strings[id] to id; a string already present now maps to this id (a later entry wins).
  void insert(int32_t id);
  int32_t find(std::string_view s) const;  // -1 when absent
  size_t size() const { return size_; }

 private:
  void grow();
  const std::vector<std::string>* strings_;
  std::vector<int32_t> slots_;  // -1: empty
  size_t mask_ = 0, size_ = 0;
};

}  // namespace r1::tok
