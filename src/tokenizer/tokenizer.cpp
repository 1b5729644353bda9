// Encoding and decoding for r1::Tokenizer (loading is in tokenizer_loader.cpp).
#include "tokenizer/tokenizer.h"

#include "tokenizer/byte_level.h"
#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/utf8.h"

namespace r1 {
namespace {

const std::string kEmpty;

// Pre-tokenize one plain piece of (normalized) text and BPE every pre-token.
void encode_plain(const Tokenizer::Impl& t, std::string_view text, std::vector<int32_t>& out) {
  if (text.empty()) return;
  std::string prefixed;
  if (t.add_prefix_space && text.front() != ' ') {
    prefixed.reserve(text.size() + 1);
    prefixed += ' ';
    prefixed.append(text);
    text = prefixed;
  }
  if (t.splits.empty()) {
    t.model.encode_word(text, out);
    return;
  }
  thread_local std::vector<tok::Span> spans, next, local;
  spans.clear();
  spans.push_back({0, text.size()});
  for (const tok::RegexSplit& step : t.splits) {
    next.clear();
    for (const tok::Span& s : spans) {
      local.clear();
      step.split(text.substr(s.begin, s.end - s.begin), local);
      for (const tok::Span& l : local) next.push_back({s.begin + l.begin, s.begin + l.end});
    }
    spans.swap(next);
  }
  for (const tok::Span& s : spans) t.model.encode_word(text.substr(s.begin, s.end - s.begin), out);
}

}  // namespace

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  EncodeOptions options;
  options.add_special_tokens = add_special_tokens;
  encode_into(text, options, ids);
  return ids;
}

void Tokenizer::encode_into(std::string_view text, const EncodeOptions& options, std::vector<int32_t>& out) const {
  const Impl& t = *impl_;
  std::string repaired;
  if (!tok::utf8_valid(text)) {
    repaired = tok::utf8_lossy(text);
    text = repaired;
  }
  const bool skip_special = !options.match_special_tokens || t.split_special_tokens;
  if (options.add_special_tokens) out.insert(out.end(), t.post_prefix.begin(), t.post_prefix.end());
  std::vector<tok::Segment> segments, inner;
  t.raw_matcher.split(text, skip_special, segments);
  for (const tok::Segment& seg : segments) {
    if (seg.id >= 0) {
      out.push_back(seg.id);
      continue;
    }
    std::string_view piece = text.substr(seg.begin, seg.end - seg.begin);
    std::string normalized;
    for (tok::NormalForm form : t.normalizers) {
      if (tok::is_normalized_quick(piece, form)) continue;  // the common case: no copy
      normalized = tok::normalize(piece, form);
      piece = normalized;
    }
    if (t.normalized_matcher.empty()) {
      encode_plain(t, piece, out);
      continue;
    }
    inner.clear();
    t.normalized_matcher.split(piece, skip_special, inner);
    for (const tok::Segment& s : inner) {
      if (s.id >= 0)
        out.push_back(s.id);
      else
        encode_plain(t, piece.substr(s.begin, s.end - s.begin), out);
    }
  }
  if (options.add_special_tokens) out.insert(out.end(), t.post_suffix.begin(), t.post_suffix.end());
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const {
  const Impl& t = *impl_;
  std::string bytes;
  bool first = true;
  for (int32_t id : ids) {
    if (id < 0 || static_cast<size_t>(id) >= t.id_bytes.size() || t.id_to_token[id].empty()) continue;
    if (skip_special_tokens && t.special[id]) continue;
    if (!t.decoder_byte_level && !first) bytes += ' ';
    bytes += t.decoder_byte_level ? t.id_bytes[id] : t.id_to_token[id];
    first = false;
  }
  return tok::utf8_lossy(bytes);
}

const std::string& Tokenizer::token_bytes(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= impl_->id_bytes.size()) return kEmpty;
  return impl_->id_bytes[id];
}

int32_t Tokenizer::token_to_id(std::string_view token) const {
  return impl_->token_to_id.find(token);
}

std::string Tokenizer::id_to_token(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= impl_->id_to_token.size()) return "";
  return impl_->id_to_token[id];
}

int32_t Tokenizer::vocab_size() const { return static_cast<int32_t>(impl_->id_to_token.size()); }

bool Tokenizer::is_special(int32_t id) const {
  return id >= 0 && static_cast<size_t>(id) < impl_->special.size() && impl_->special[id];
}

const std::vector<tok::AddedToken>& Tokenizer::added_tokens() const { return impl_->added; }

int32_t Tokenizer::bos_id() const { return impl_->bos_token.empty() ? -1 : token_to_id(impl_->bos_token); }
int32_t Tokenizer::pad_id() const { return impl_->pad_token.empty() ? -1 : token_to_id(impl_->pad_token); }

std::vector<int32_t> Tokenizer::eos_ids() const {
  if (!impl_->generation_eos_ids.empty()) return impl_->generation_eos_ids;
  const int32_t id = impl_->eos_token.empty() ? -1 : token_to_id(impl_->eos_token);
  return id >= 0 ? std::vector<int32_t>{id} : std::vector<int32_t>{};
}

const std::string& Tokenizer::bos_token() const { return impl_->bos_token; }
const std::string& Tokenizer::eos_token() const { return impl_->eos_token; }
const std::string& Tokenizer::chat_template() const { return impl_->chat_template; }
bool Tokenizer::clean_up_tokenization_spaces() const { return impl_->clean_up_spaces; }
const std::string& Tokenizer::source() const { return impl_->source; }

std::string clean_up_tokenization_spaces(std::string_view text) {
  // transformers PreTrainedTokenizerBase.clean_up_tokenization, replacement by replacement, in order.
  static const std::pair<const char*, const char*> kRules[] = {
      {" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"},
      {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  std::string s(text);
  for (const auto& [from, to] : kRules) {
    const std::string f(from), r(to);
    std::string out;
    size_t pos = 0;
    for (size_t hit; (hit = s.find(f, pos)) != std::string::npos; pos = hit + f.size()) {
      out.append(s, pos, hit - pos);
      out += r;
    }
    out.append(s, pos, std::string::npos);
    s.swap(out);
  }
  return s;
}

}  // namespace r1
