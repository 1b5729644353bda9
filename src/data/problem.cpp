#include "data/problem.h"

namespace r1::data {

nlohmann::json to_json(const Problem& p) {
  return nlohmann::json{
      {"id", p.id}, {"prompt", p.prompt}, {"answer", p.answer}, {"task", p.task}, {"metadata", p.metadata}};
}

}  // namespace r1::data
