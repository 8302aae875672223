// .erm files: header and its checksum, zstd metadata, tensor directory. A
// mutated file rarely keeps its checksum, so the harness recomputes it for
// half of the inputs (the rest test the checksum itself): what lies behind
// the check must be safe too.
#include <cstring>
#include <vector>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "formats/erm.h"
#include "fuzz_model_file.inc"
#include "fuzz_target.h"

FUZZ_HARNESS(erm) {
  std::vector<uint8_t> bytes(data, data + size);
  if (size >= sizeof(edgerun::ErmHeader) + 1 && (data[size - 1] & 1)) {
    edgerun::ErmHeader h;
    std::memcpy(&h, bytes.data(), sizeof h);
    const uint64_t n = bytes.size();
    if (h.meta_offset <= n && h.meta_size <= n - h.meta_offset && h.dir_offset <= n && h.dir_size <= n - h.dir_offset) {
      edgerun::ErmHeader z = h;
      z.header_hash = 0;
      XXH3_state_t* st = XXH3_createState();
      XXH3_64bits_reset(st);
      XXH3_64bits_update(st, &z, sizeof z);
      XXH3_64bits_update(st, bytes.data() + h.meta_offset, h.meta_size);
      XXH3_64bits_update(st, bytes.data() + h.dir_offset, h.dir_size);
      h.header_hash = XXH3_64bits_digest(st);
      XXH3_freeState(st);
      h.file_size = n;
      std::memcpy(bytes.data(), &h, sizeof h);
    }
  }
  load_and_run(fuzz::input_file(bytes.data(), bytes.size()));
  return 0;
}
