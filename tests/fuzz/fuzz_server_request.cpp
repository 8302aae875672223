// An HTTP request body for /v1/chat/completions or /v1/completions (the
// first byte picks), checked field by field as `edgerun serve` does.
#include "fuzz_target.h"
#include "openai_api.h"

FUZZ_HARNESS(server_request) {
  if (size == 0) return 0;
  using namespace edgerun::server;
  const Endpoint endpoint = data[0] & 1 ? Endpoint::Chat : Endpoint::Completion;
  const std::string body(reinterpret_cast<const char*>(data + 1), size - 1);
  try {
    const RequestLimits limits;
    const json j = parse_body(body, limits);
    (void)parse_request(j, endpoint, edgerun::SamplerParams{}, limits, 42);
  } catch (const ApiError&) {
  }
  return 0;
}
