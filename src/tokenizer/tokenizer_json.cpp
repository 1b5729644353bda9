// SAX reader for tokenizer.json: model.vocab and model.merges bypass the DOM.
#include "tokenizer/tokenizer_json.h"

#include "core/error.h"

namespace r1::tok {
namespace {

using nlohmann::json;

MergeEntry merge_from_string(std::string_view s) {
  MergeEntry m;
  const size_t sp = s.find(' ');
  if (sp == std::string_view::npos || s.find(' ', sp + 1) != std::string_view::npos) {
    m.ok = false;
    m.a = "merge '" + std::string(s) + "' must be two tokens separated by one space";
    return m;
  }
  m.a.assign(s.substr(0, sp));
  m.b.assign(s.substr(sp + 1));
  return m;
}

// Forwards every event to nlohmann's DOM builder except those inside model.vocab / model.merges.
class Sax : public nlohmann::json_sax<json> {
 public:
  explicit Sax(TokenizerJson& out) : out_(out), dom_(out.rest, true) {}

  bool null() override { return mode_ == Mode::kDom ? dom_.null() : bad("null"); }
  bool boolean(bool v) override { return mode_ == Mode::kDom ? dom_.boolean(v) : bad(v ? "true" : "false"); }
  bool number_integer(number_integer_t v) override {
    if (mode_ == Mode::kVocab) return vocab_id(v);
    return mode_ == Mode::kDom ? dom_.number_integer(v) : bad("a number");
  }
  bool number_unsigned(number_unsigned_t v) override {
    if (mode_ == Mode::kVocab) return vocab_id(v > INT64_MAX ? -1 : static_cast<int64_t>(v));
    return mode_ == Mode::kDom ? dom_.number_unsigned(v) : bad("a number");
  }
  bool number_float(number_float_t v, const string_t& s) override {
    return mode_ == Mode::kDom ? dom_.number_float(v, s) : bad("a number");
  }
  bool binary(binary_t& v) override { return mode_ == Mode::kDom ? dom_.binary(v) : bad("binary"); }

  bool string(string_t& v) override {
    if (mode_ == Mode::kMerges) {
      if (pair_depth_ == 0) {
        out_.merges.push_back(merge_from_string(v));
      } else {
        pair_.push_back(std::move(v));
      }
      return true;
    }
    if (mode_ == Mode::kVocab) return bad("a string");
    return dom_.string(v);
  }

  bool start_object(std::size_t n) override {
    if (mode_ == Mode::kVocab) return nested_in_vocab();
    if (mode_ == Mode::kDom) {
      if (at_model_member("vocab")) {
        mode_ = Mode::kVocab;
        out_.has_vocab = true;
        return dom_.null();
      }
      frames_.push_back({true, ""});
      return dom_.start_object(n);
    }
    return bad("an object");
  }
  bool key(string_t& k) override {
    if (mode_ == Mode::kVocab) {
      if (vocab_nested_ == 0) vocab_key_ = std::move(k);
      return true;
    }
    if (mode_ != Mode::kDom) return bad("an object");
    frames_.back().key = k;
    return dom_.key(k);
  }
  bool end_object() override {
    if (mode_ == Mode::kVocab) {
      if (vocab_nested_ > 0) return --vocab_nested_, true;
      mode_ = Mode::kDom;
      return true;
    }
    if (mode_ != Mode::kDom) return bad("an object");
    frames_.pop_back();
    return dom_.end_object();
  }
  bool start_array(std::size_t n) override {
    if (mode_ == Mode::kMerges) {
      if (pair_depth_ > 0) {
        ++pair_depth_;  // nested deeper than a pair: malformed, collected as such
        return true;
      }
      pair_depth_ = 1;
      pair_.clear();
      return true;
    }
    if (mode_ == Mode::kVocab) return nested_in_vocab();
    if (at_model_member("merges")) {
      mode_ = Mode::kMerges;
      out_.has_merges = true;
      return dom_.null();
    }
    frames_.push_back({false, ""});
    return dom_.start_array(n);
  }
  bool end_array() override {
    if (mode_ == Mode::kMerges) {
      if (pair_depth_ == 0) {
        mode_ = Mode::kDom;
        return true;
      }
      if (--pair_depth_ == 0) {
        MergeEntry m;
        if (pair_.size() == 2 && !pair_bad_) {
          m.a = std::move(pair_[0]);
          m.b = std::move(pair_[1]);
        } else {
          m.ok = false;
          m.a = "merge must be \"a b\" or [\"a\", \"b\"]";
        }
        out_.merges.push_back(std::move(m));
        pair_bad_ = false;
      }
      return true;
    }
    if (mode_ == Mode::kVocab) return --vocab_nested_, true;
    frames_.pop_back();
    return dom_.end_array();
  }
  bool parse_error(std::size_t pos, const std::string& token, const nlohmann::detail::exception& e) override {
    error_ = std::string(e.what());
    return false;
  }
  const std::string& error() const { return error_; }

 private:
  enum class Mode { kDom, kVocab, kMerges };
  struct Frame {
    bool is_object;
    std::string key;  // last key seen in this object
  };

  // True when the container about to start is root.model.<member>.
  bool at_model_member(const char* member) const {
    return frames_.size() == 2 && frames_[0].is_object && frames_[0].key == "model" && frames_[1].is_object &&
           frames_[1].key == member;
  }
  bool vocab_id(int64_t v) {
    if (vocab_nested_ > 0) return true;
    if (v < 0 || v > INT32_MAX) {
      if (out_.vocab_error.empty()) out_.vocab_error = vocab_key_;
      v = -1;
    }
    out_.vocab.emplace_back(std::move(vocab_key_), v);
    return true;
  }
  // An object or list as a vocab id: recorded as bad, and its contents skipped.
  bool nested_in_vocab() {
    if (vocab_nested_ == 0) bad("a container");
    ++vocab_nested_;
    return true;
  }
  // A value of the wrong kind inside vocab or merges.
  bool bad(const char* what) {
    if (mode_ == Mode::kVocab) {
      if (vocab_nested_ > 0) return true;
      if (out_.vocab_error.empty()) out_.vocab_error = vocab_key_;
      out_.vocab.emplace_back(std::move(vocab_key_), -1);
      return true;  // keep scanning; the loader reports vocab_error
    }
    if (mode_ == Mode::kMerges) {
      if (pair_depth_ == 0) {
        MergeEntry m;
        m.ok = false;
        m.a = std::string("merge must be \"a b\" or [\"a\", \"b\"], found ") + what;
        out_.merges.push_back(std::move(m));
      } else {
        pair_bad_ = true;
      }
      return true;
    }
    return true;
  }

  TokenizerJson& out_;
  nlohmann::detail::json_sax_dom_parser<json> dom_;
  std::vector<Frame> frames_;
  Mode mode_ = Mode::kDom;
  std::string vocab_key_;
  int vocab_nested_ = 0;
  int pair_depth_ = 0;
  bool pair_bad_ = false;
  std::vector<std::string> pair_;
  std::string error_;
};

}  // namespace

TokenizerJson parse_tokenizer_json(std::string_view text, const std::string& source) {
  TokenizerJson out;
  out.vocab.reserve(1 << 17);
  out.merges.reserve(1 << 18);
  Sax sax(out);
  bool ok = false;
  try {
    ok = json::sax_parse(text.begin(), text.end(), &sax);
  } catch (const json::exception& e) {
    fail_in_file(source, std::string("invalid JSON: ") + e.what());
  }
  if (!ok) fail_in_file(source, "invalid JSON: " + sax.error());
  return out;
}

}  // namespace r1::tok
