// Supervised fine-tuning (the R1 pipeline's cold start, rejection-sampling SFT and distillation): next-token
// cross-entropy on conversations, with the loss on the ASSISTANT's tokens only.
//
//   JSONL ({"messages": [{role, content}...]} or {"prompt", "response"}) or the built-in addition task
//   ──chat template──▶ token ids + assistant mask (encode_chat) ──▶ loss mask: position i is trained to
//   predict tokens[i+1] only when tokens[i+1] is the assistant's ──▶ examples packed greedily (shuffled per
//   epoch) into batches of at most train.batch_tokens tokens ──▶ mean loss over the batch's assistant tokens,
//   backward, clip, AdamW ──▶ held-out loss every eval.every steps.
//
// The run directory mirrors GRPO's (rl/grpo_trainer.h): config.yaml, metrics.jsonl + TensorBoard events,
// checkpoints/step_N/{model/, optimizer.safetensors, trainer_state.json} written atomically, summary.json and
// report.html. The data order is a pure function of (seed, epoch), and checkpoints hold the weights, the AdamW
// moments and the step, so a resumed run reproduces an uninterrupted one exactly.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/config.h"
#include "model/transformer.h"
#include "tokenizer/chat_template.h"

namespace r1 {

class Tokenizer;

// One tokenized conversation.
struct SftExample {
  std::string id;                       // "file:line" or "addition/17": names the example in errors and logs
  std::vector<int32_t> tokens;          // the rendered conversation
  std::vector<uint8_t> assistant_mask;  // per token: 1 where the token is the assistant's (encode_chat's mask)
};

// Where SFT conversations come from. JSONL records are either {"messages": [...]} (roles system, user,
// assistant) or {"prompt": ..., "response": ...} (optionally "system"); `format` picks one or accepts both.
struct SftJsonlFields {
  std::string format = "auto";  // auto | messages | prompt_response
  std::string messages_field = "messages", prompt_field = "prompt", response_field = "response";
  std::string system;  // system prompt added to every conversation without one ("" = none)
};

// Reads conversations; a bad line is an r1::Error naming "<file>:<line>" and the field. Each conversation must
// contain at least one assistant message (else nothing would be learned from it).
std::vector<std::vector<ChatMessage>> read_sft_conversations(const std::string& path, const SftJsonlFields& fields,
                                                             std::vector<std::string>* ids = nullptr);

SftExample encode_sft_example(const Tokenizer& tokenizer, const ChatTemplate& tmpl,
                              const std::vector<ChatMessage>& conversation, std::string id = "");

// The PackedBatch loss mask of an example: mask[i] = assistant_mask[i + 1] (position i predicts token i + 1).
std::vector<uint8_t> sft_loss_mask(const SftExample& example);
// Number of trained (next-token) positions of an example.
int64_t sft_target_count(const SftExample& example);

// Packs the given examples (in order) into one batch with the SFT loss mask.
PackedBatch pack_sft_batch(const std::vector<SftExample>& examples, const std::vector<size_t>& indices);

// The batches of one epoch: example indices, shuffled by Philox(seed, epoch) when `shuffle`, laid greedily into
// batches of at most batch_tokens tokens (an example never spans two batches; one longer than the budget is an
// error naming it). Deterministic in (examples' lengths, batch_tokens, seed, epoch, shuffle).
std::vector<std::vector<size_t>> plan_sft_epoch(const std::vector<SftExample>& examples, int batch_tokens,
                                                uint64_t seed, int64_t epoch, bool shuffle);

// Mean next-token loss over the assistant tokens of `examples` (no gradient), in batches of batch_tokens.
double sft_eval_loss(TrainableModel& model, const std::vector<SftExample>& examples, int batch_tokens);

// ---- the `r1 sft` job ----

// All keys of an SFT run's YAML config, with defaults, limits and help text.
const ConfigSchema& sft_config_schema();

struct SftRunOptions {
  std::string run_dir;          // runs/NAME
  bool resume = false;          // continue from the latest complete checkpoint
  int max_steps_this_run = -1;  // stop after this many steps (tests simulate a killed run); -1: no limit
};

struct SftSummary {
  int64_t steps = 0;                 // optimizer steps of the whole run
  int64_t train_examples = 0, eval_examples = 0, dropped_examples = 0;
  int64_t train_target_tokens = 0;   // assistant tokens per epoch
  double first_loss = 0, final_loss = 0;          // training loss of the first and last step
  double base_eval_loss = 0, final_eval_loss = 0;  // held-out loss before training and at the end
  std::string model_dir;             // the final checkpoint's model directory (a Hugging Face model)
};

// Runs (or resumes) an SFT job described by `config`; writes everything into options.run_dir.
SftSummary run_sft(const Config& config, const SftRunOptions& options);

}  // namespace r1
