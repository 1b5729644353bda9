#include "train/pretrain.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/error.h"
#include "core/rng.h"
#include "model/safetensors.h"

namespace r1 {

Optimizer::Optimizer(TrainableModel& model, AdamWConfig config, dist::Communicator* comm)
    : model_(model), config_(config), comm_(comm) {
  if (!comm_) {
    own_comm_ = std::make_unique<dist::LocalCommunicator>(model.device());
    comm_ = own_comm_.get();
  }
  if (comm_->device() != model.device())
    throw Error(std::string("optimizer: the communicator works on ") + device_name(comm_->device()) +
                " memory but the model lives on " + device_name(model.device()));
  shards_ = dist::shard_ranges(model.num_params(), comm_->world_size());
  shard_ = shards_[size_t(comm_->rank())];
  model_.init_optimizer_state(shard_.begin, shard_.end);
}

double Optimizer::step(float lr, double max_norm, double grad_weight) {
  const int world = comm_->world_size();
  const double weight = grad_weight > 0 ? grad_weight : 1.0 / world;
  // One rank with weight 1 (the only one it can have) moves nothing: the step is plain clipped AdamW.
  if (world > 1 || weight != 1.0) comm_->reduce_scatter_sum(model_.device_grads(), shards_, float(weight));
  double sum_squares = model_.grad_sum_squares(shard_.begin, shard_.end);
  comm_->host_all_reduce_sum(&sum_squares, 1);
  const double norm = std::sqrt(sum_squares);
  // Every rank sees the same global norm, so every rank skips (or takes) the step alike.
  if (!std::isfinite(norm)) return std::numeric_limits<double>::quiet_NaN();
  step_++;
  AdamWUpdate u;
  u.lr = lr, u.beta1 = config_.beta1, u.beta2 = config_.beta2, u.eps = config_.eps;
  u.weight_decay = config_.weight_decay, u.step = step_;
  // The clipping factor of clip_grad_norm, applied inside the update instead of to the gradients.
  if (max_norm > 0 && norm > max_norm) u.grad_scale = float(max_norm / (norm + 1e-6));
  model_.adamw(u, shard_.begin, shard_.end);
  if (world > 1) {
    comm_->all_gather(model_.device_params(), shards_);
    const int64_t n = model_.num_params();
    if (shard_.begin > 0) model_.device_params_changed(0, shard_.begin);
    if (shard_.end < n) model_.device_params_changed(shard_.end, n);
  }
  return norm;
}

std::map<std::string, double> Optimizer::memory_metrics() {
  constexpr double kGiB = double(1 << 30);
  double bytes[2] = {double(model_.optimizer_state_bytes()), double(model_.device_bytes_in_use())};
  comm_->host_all_reduce_max(bytes, 2);
  std::map<std::string, double> m = {{"memory/optimizer_gib", bytes[0] / kGiB}};
  if (bytes[1] > 0) m["memory/device_gib"] = bytes[1] / kGiB;
  return m;
}

void Optimizer::save_state(const std::string& path) {
  const int64_t n = model_.num_params();
  const bool root = comm_->is_root();
  std::vector<float> m(root ? size_t(n) : 0), v(root ? size_t(n) : 0);
  std::vector<float> mine_m(size_t(shard_.size())), mine_v(size_t(shard_.size()));
  if (shard_.size() > 0) model_.read_optimizer_state(mine_m.data(), mine_v.data(), shard_.begin, shard_.end);
  if (root) {
    std::copy(mine_m.begin(), mine_m.end(), m.begin() + shard_.begin);
    std::copy(mine_v.begin(), mine_v.end(), v.begin() + shard_.begin);
  }
  // One shard at a time (host memory stays at the full moments on rank 0 and one shard elsewhere).
  for (int r = 1; r < comm_->world_size(); r++) {
    const dist::Shard& s = shards_[size_t(r)];
    std::string bytes;
    if (comm_->rank() == r) {
      bytes.resize(size_t(s.size()) * 2 * sizeof(float));
      std::memcpy(bytes.data(), mine_m.data(), size_t(s.size()) * sizeof(float));
      std::memcpy(bytes.data() + size_t(s.size()) * sizeof(float), mine_v.data(), size_t(s.size()) * sizeof(float));
    }
    bytes = comm_->host_broadcast(bytes, r);
    if (root) {
      std::memcpy(m.data() + s.begin, bytes.data(), size_t(s.size()) * sizeof(float));
      std::memcpy(v.data() + s.begin, bytes.data() + size_t(s.size()) * sizeof(float), size_t(s.size()) * sizeof(float));
    }
  }
  if (root) write_safetensors(path, {{"adamw.m", DType::F32, Shape{n}, m.data()}, {"adamw.v", DType::F32, Shape{n}, v.data()}});
}

void Optimizer::load_state(const std::string& path) {
  const int64_t n = model_.num_params();
  const auto file = SafetensorsFile::open(path);
  std::vector<float> m(static_cast<size_t>(n)), v(static_cast<size_t>(n));
  file.read_f32("adamw.m", Shape{n}, m.data());
  file.read_f32("adamw.v", Shape{n}, v.data());
  if (shard_.size() > 0)
    model_.write_optimizer_state(m.data() + shard_.begin, v.data() + shard_.begin, shard_.begin, shard_.end);
}

namespace {

// Consecutive documents from `order` starting at *cursor, up to `budget` tokens (at least one document).
std::vector<size_t> next_batch(const std::vector<std::vector<int32_t>>& docs, const std::vector<size_t>& order,
                               size_t* cursor, int budget) {
  std::vector<size_t> b;
  int64_t tokens = 0;
  while (true) {
    const size_t i = order[*cursor % order.size()];
    if (tokens > 0 && tokens + int64_t(docs[i].size()) > budget) break;
    b.push_back(i);
    tokens += int64_t(docs[i].size());
    (*cursor)++;
    if (tokens >= budget) break;
  }
  return b;
}

PackedBatch pack(const std::vector<std::vector<int32_t>>& docs, const std::vector<size_t>& idx, size_t begin,
                 size_t end) {
  PackedBatch b;
  for (size_t k = begin; k < end; k++) b.add_sequence(docs[idx[k]]);
  return b;
}

}  // namespace

double evaluate_loss(TrainableModel& model, const std::vector<std::vector<int32_t>>& docs, int batch_tokens,
                     dist::Communicator* comm) {
  std::vector<size_t> order(docs.size());
  for (size_t i = 0; i < order.size(); i++) order[i] = i;
  const int world = comm ? comm->world_size() : 1, rank = comm ? comm->rank() : 0;
  size_t cursor = 0;
  double acc[2] = {0, 0};  // sum of loss x targets, targets
  for (int64_t k = 0; cursor < docs.size(); k++) {
    const std::vector<size_t> idx = next_batch(docs, order, &cursor, batch_tokens);
    if (k % world != rank) continue;
    const PackedBatch b = pack(docs, idx, 0, idx.size());
    const int64_t n = b.num_targets();
    if (n == 0) continue;
    acc[0] += model.cross_entropy_step(b, false) * double(n);
    acc[1] += double(n);
  }
  if (comm) comm->host_all_reduce_sum(acc, 2);
  return acc[1] > 0 ? acc[0] / acc[1] : std::numeric_limits<double>::quiet_NaN();
}

void pretrain(TrainableModel& model, const std::vector<std::vector<int32_t>>& docs,
              const std::vector<std::vector<int32_t>>& eval_docs, const PretrainOptions& o,
              const std::function<void(const PretrainStep&)>& on_step) {
  if (docs.empty()) throw Error("pretrain: the corpus is empty");
  // A fixed shuffled order of the documents, cycled through: deterministic in the seed.
  std::vector<size_t> order(docs.size());
  for (size_t i = 0; i < order.size(); i++) order[i] = i;
  Philox rng(o.seed, 31);
  for (size_t i = order.size(); i > 1; i--) std::swap(order[i - 1], order[size_t(rng.below(i))]);
  Optimizer opt(model, o.adamw, o.comm);
  dist::Communicator& comm = opt.comm();
  size_t cursor = 0;
  for (int64_t step = 1; step <= o.steps; step++) {
    const auto t0 = std::chrono::steady_clock::now();
    // Every rank draws the same global batch, then trains on its token-balanced share of the documents.
    const std::vector<size_t> idx = next_batch(docs, order, &cursor, o.batch_tokens);
    std::vector<int64_t> lengths;
    for (size_t i : idx) lengths.push_back(int64_t(docs[i].size()));
    const std::vector<size_t> parts = dist::balanced_split(lengths, comm.world_size());
    const PackedBatch batch = pack(docs, idx, parts[size_t(comm.rank())], parts[size_t(comm.rank()) + 1]);
    model.zero_grads();
    double local_loss = 0;
    double acc[3] = {0, double(batch.num_targets()), double(batch.num_tokens())};
    if (acc[1] > 0) local_loss = model.cross_entropy_step(batch, true);
    acc[0] = local_loss * acc[1];
    comm.host_all_reduce_sum(acc, 3);
    // The mean over the global batch's targets; with one rank exactly the model's own mean.
    const double loss = comm.world_size() == 1 ? local_loss : acc[0] / acc[1];
    const float lr = o.schedule.lr_at(step);
    const double weight = acc[1] > 0 ? double(batch.num_targets()) / acc[1] : 1.0 / comm.world_size();
    const double norm = opt.step(lr, o.clip_grad_norm, comm.world_size() == 1 ? 1.0 : weight);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    PretrainStep s{step, loss, norm, lr, acc[2] / secs, std::numeric_limits<double>::quiet_NaN()};
    if (!eval_docs.empty() && o.eval_every > 0 && (step % o.eval_every == 0 || step == o.steps))
      s.eval_loss = evaluate_loss(model, eval_docs, o.batch_tokens, &comm);
    if (on_step) on_step(s);
  }
}

}  // namespace r1
