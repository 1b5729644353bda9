// Linear probing over a power-of-two table kept at most half full.
#include "tokenizer/string_index.h"

#include <functional>

namespace r1::tok {

void StringIndex::reset(const std::vector<std::string>* strings, size_t expected_size) {
  strings_ = strings;
  size_t cap = 16;
  while (cap < 2 * expected_size + 1) cap <<= 1;
  slots_.assign(cap, -1);
  mask_ = cap - 1;
  size_ = 0;
}

void StringIndex::grow() {
  std::vector<int32_t> old;
  old.swap(slots_);
  slots_.assign(old.size() * 2, -1);
  mask_ = slots_.size() - 1;
  size_ = 0;
  for (int32_t id : old)
    if (id >= 0) insert(id);
}

void StringIndex::insert(int32_t id) {
  if (slots_.empty()) reset(strings_, 16);
  if (2 * (size_ + 1) > slots_.size()) grow();
  const std::string& s = (*strings_)[id];
  for (size_t i = std::hash<std::string_view>{}(s) & mask_;; i = (i + 1) & mask_) {
    if (slots_[i] < 0) {
      slots_[i] = id;
      ++size_;
      return;
    }
    if ((*strings_)[slots_[i]] == s) {
      slots_[i] = id;
      return;
    }
  }
}

int32_t StringIndex::find(std::string_view s) const {
  if (slots_.empty()) return -1;
  for (size_t i = std::hash<std::string_view>{}(s) & mask_;; i = (i + 1) & mask_) {
    const int32_t id = slots_[i];
    if (id < 0) return -1;
    if ((*strings_)[id] == s) return id;
  }
}

}  // namespace r1::tok
