// A chat template and the messages it renders, both from the input: the
// template as a model file carries it, the messages as JSON (a request, a
// saved chat). Rendering is bounded in steps, depth and output.
#include "common/error.h"
#include "common/json_input.h"
#include "fuzz_target.h"
#include "template/chat_template.h"

FUZZ_HARNESS(jinja) {
  const fuzz::Parts in = fuzz::split(data, size);
  const std::string& source = in.first;
  const std::string& messages = in.rest;
  try {
    edgerun::ChatTemplate tmpl(source, "fuzz template");
    edgerun::ChatTemplateInputs inputs;
    try {
      auto j = edgerun::parse_json_input<nlohmann::ordered_json>("fuzz messages", messages);
      if (j.is_array()) inputs.messages = std::move(j);
      else if (j.is_object()) inputs.extra = std::move(j);
    } catch (const edgerun::Error&) {
      inputs.messages = nlohmann::ordered_json::array({{{"role", "user"}, {"content", messages}}});
    }
    (void)tmpl.render(inputs, nlohmann::ordered_json{{"bos_token", "<s>"}, {"eos_token", "</s>"}});
  } catch (const edgerun::Error&) {
  }
  return 0;
}
