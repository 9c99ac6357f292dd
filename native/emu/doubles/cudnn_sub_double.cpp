// A test double of one cuDNN 9 sub-library (libcudnn_graph/_ops/_cnn.so.9; tests only). The real shim libcudnn.so.9
// loads them lazily and aborts the process when one is missing; tensile loads them itself first. The double of
// libcudnn.so.9 checks in cudnnCreate that all three are loaded. Each exports its version check, as the real ones do.
#include "record.h"

#define TS_CAT2(a, b) a##b
#define TS_CAT(a, b) TS_CAT2(a, b)
#define TS_STR2(a) #a
#define TS_STR(a) TS_STR2(a)

// cudnnGraphVersionCheck / cudnnOpsVersionCheck / cudnnCnnVersionCheck
TS_EXPORT int TS_CAT(TS_CAT(cudnn_, TS_DOUBLE_SUB), _version_check)() { return 0; }
TS_EXPORT const char* tensile_double_sublibrary() { return TS_STR(TS_DOUBLE_SUB); }
