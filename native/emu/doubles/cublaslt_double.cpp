// A test double of libcublasLt.so.N (tests only): tensile loads it before libcublas, as the real libcublas needs it;
// it calls nothing here. Its one entry point says which double this is.
#include "record.h"

#ifndef TS_DOUBLE_MAJOR
#define TS_DOUBLE_MAJOR 13
#endif

TS_EXPORT size_t cublasLtGetVersion() { return (size_t)TS_DOUBLE_MAJOR * 10000 + 100; }
