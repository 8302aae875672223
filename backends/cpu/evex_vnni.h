// Included right after HWY_BEFORE_NAMESPACE() by the kernel files, once per
// Highway target (so no include guard).
//
// Highway 1.0.3 compiles AVX3_DL for AVX-VNNI (the VEX form, absent on Ice
// Lake), but selects it on CPUs with AVX-512 VNNI. So VNNI is used only
// through 512-bit intrinsics, which exist in EVEX form alone, and their target
// feature is added here; 256-bit int8 products use maddubs, which every AVX2
// CPU has.
#if HWY_TARGET == HWY_AVX3_DL
#if defined(__clang__)
// clang takes the first target attribute pushed, so Highway's is replaced by
// one with EVEX VNNI added (HWY_AFTER_NAMESPACE pops it).
HWY_POP_ATTRIBUTES
HWY_PUSH_ATTRIBUTES(HWY_TARGET_STR ",avx512vnni")
#else
#pragma GCC target("avx512vnni")
#endif
#endif
