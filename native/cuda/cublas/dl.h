// Loading NVIDIA's libraries at run time (shared by cublas/ and cudnn/): tensile never links cuBLAS or cuDNN and
// pins no version; it looks for them with dlopen when an op first needs them (or cuda.status() asks), and uses its
// own kernels when they are not there. Also the switches the user sets (cuda.setAllowTF32 / setBenchmark /
// setDeterministic) and the record of which path each op took (TENSILE_PROFILE=1 prints it at exit).
#pragma once
#include <string>
#include <vector>
#include "../api.h"

namespace tensile {
namespace cuda {
namespace libs {

// The directories searched after an explicit TENSILE_*_LIBRARY, in order: "" (the dynamic loader's own search:
// LD_LIBRARY_PATH, the system's paths and ld.so.cache), the CUDA toolkit's lib64 ($CUDA_HOME, $CUDA_PATH,
// /usr/local/cuda), then the nvidia/<wheel>/lib folders (and nvidia/cu13/lib, nvidia/cu12/lib) of the Python
// site-packages found ($VIRTUAL_ENV, $CONDA_PREFIX, $PYTHONPATH, ~/.local, /usr/local, /usr, /opt/conda). Only
// folders that exist are listed.
std::vector<std::string> search_dirs(const char* wheel);

// dlopen(path, RTLD_NOW | RTLD_LOCAL), path appended to `tried`; on failure *err gets dlerror()'s text.
void* open(const std::string& path, std::vector<std::string>& tried, std::string* err);
// The file a handle was loaded from (its full path, also for a library found by its soname alone).
std::string path_of(void* handle);
// The folder of a path ("" for a bare file name).
std::string dir_of(const std::string& path);
// dlsym every name into the slots (in order); returns "" or the first missing name.
std::string resolve(void* handle, const char* const* names, void** slots, int n);

// The CUDA major version of this build's runtime (13 for CUDA 13.0).
int runtime_major();
// TENSILE_<NAME>=0 turns the library off.
bool disabled(const char* env);

// The switches (process-wide, like PyTorch's torch.backends flags). Off by default.
bool allow_tf32();
bool benchmark();
bool deterministic();

// Records that `op` ran on `path` ("ours", "cuBLAS ...", "cuDNN ... algo N"): counted per (op, path) when
// TENSILE_PROFILE is set or a test asked for the table (paths()); nearly free otherwise.
void note(int op, const char* path);
void note(int op, const std::string& path);

}  // namespace libs
}  // namespace cuda
}  // namespace tensile
