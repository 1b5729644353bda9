// KvCache: refcounted pages, fork sharing, copy-on-write of a shared partial page, and page accounting.
#include <gtest/gtest.h>

#include "core/error.h"
#include "generate/kv_cache.h"

namespace r1::gen {
namespace {

KvGeometry geometry(int pages) {
  KvGeometry g;
  g.num_layers = 2, g.num_pages = pages, g.page_size = 4, g.kv_heads = 2, g.head_dim = 3;
  return g;
}

// Writes a value identifying (layer, token) into every float of the token's K and V slots.
void write_token(KvCache& c, const KvSequence& s, int pos, float tag) {
  for (int l = 0; l < c.geometry().num_layers; l++)
    for (int64_t i = 0; i < c.geometry().slot_floats(); i++) {
      c.k_pool(l)[c.slot_offset(s, pos) + i] = tag + 100.0f * l;
      c.v_pool(l)[c.slot_offset(s, pos) + i] = -(tag + 100.0f * l);
    }
}

float read_k(const KvCache& c, const KvSequence& s, int pos, int layer) {
  return c.k_pool(layer)[c.slot_offset(s, pos)];
}
float read_v(const KvCache& c, const KvSequence& s, int pos, int layer) {
  return c.v_pool(layer)[c.slot_offset(s, pos)];
}

TEST(KvCache, GrowAllocatesPagesOnPageBoundaries) {
  KvCache c(geometry(8));
  KvSequence s;
  EXPECT_EQ(c.grow(s, 5), 2);  // 5 tokens in pages of 4
  EXPECT_EQ(s.length, 5);
  EXPECT_EQ(c.grow(s, 3), 0);  // fills the second page
  EXPECT_EQ(c.grow(s, 1), 1);
  EXPECT_EQ(c.used_pages(), 3);
  c.release(s);
  EXPECT_EQ(c.used_pages(), 0);
  EXPECT_EQ(c.peak_used_pages(), 3);
}

TEST(KvCache, ForkSharesPagesAndCopyOnWriteCopiesOnlyThePartialPage) {
  KvCache c(geometry(16));
  KvSequence prompt;
  c.grow(prompt, 6);  // one full page + a partial page of 2 tokens
  for (int i = 0; i < 6; i++) write_token(c, prompt, i, float(i + 1));
  KvSequence a = c.fork(prompt), b = c.fork(prompt);
  EXPECT_EQ(c.used_pages(), 2) << "forks must not copy";
  EXPECT_EQ(c.refcount(prompt.pages[0]), 3);

  // Appending to a shared partial page copies it (and only it); the full first page stays shared.
  EXPECT_EQ(c.grow(a, 1), 1);
  write_token(c, a, 6, 70.0f);
  EXPECT_EQ(c.copy_on_writes(), 1);
  EXPECT_EQ(a.pages[0], prompt.pages[0]);
  EXPECT_NE(a.pages[1], prompt.pages[1]);
  EXPECT_EQ(c.grow(b, 1), 1);
  write_token(c, b, 6, 80.0f);
  EXPECT_EQ(c.used_pages(), 4);

  for (int l = 0; l < 2; l++)
    for (int i = 0; i < 6; i++) {
      EXPECT_EQ(read_k(c, a, i, l), float(i + 1) + 100.0f * l) << "copied prefix of a, token " << i;
      EXPECT_EQ(read_v(c, b, i, l), -(float(i + 1) + 100.0f * l)) << "copied prefix of b, token " << i;
    }
  EXPECT_EQ(read_k(c, a, 6, 1), 170.0f);
  EXPECT_EQ(read_k(c, b, 6, 1), 180.0f) << "b's write must not reach a's copy";

  // Once the prompt is released, the last holder of a page writes in place.
  c.release(prompt);
  KvSequence d = c.fork(a);
  c.release(a);
  EXPECT_EQ(c.grow(d, 1), 0) << "sole owner of a partial page needs no copy";
  EXPECT_EQ(c.copy_on_writes(), 2);
  c.release(b);
  c.release(d);
  EXPECT_EQ(c.used_pages(), 0);
}

TEST(KvCache, ForkAtPageBoundaryNeverCopies) {
  KvCache c(geometry(8));
  KvSequence prompt;
  c.grow(prompt, 8);
  KvSequence a = c.fork(prompt);
  EXPECT_EQ(c.grow(a, 1), 1);
  EXPECT_EQ(c.copy_on_writes(), 0);
  EXPECT_EQ(a.pages[0], prompt.pages[0]);
  EXPECT_EQ(a.pages[1], prompt.pages[1]);
  c.release(a);
  c.release(prompt);
}

TEST(KvCache, ExhaustedPoolThrows) {
  KvCache c(geometry(2));
  KvSequence s;
  c.grow(s, 8);
  EXPECT_THROW(c.grow(s, 1), Error);
}

}  // namespace
}  // namespace r1::gen
