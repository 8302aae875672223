// The C header compiles as C++ too (with -Wpedantic), and its structs start with struct_size.
#include <edgerun.h>

#include <cstddef>

static_assert(offsetof(er_model_params, struct_size) == 0, "struct_size comes first");
static_assert(offsetof(er_session_params, struct_size) == 0, "struct_size comes first");
static_assert(offsetof(er_generate_params, struct_size) == 0, "struct_size comes first");
static_assert(offsetof(er_generate_result, struct_size) == 0, "struct_size comes first");
static_assert(offsetof(er_model_info, struct_size) == 0, "struct_size comes first");
