/* The emulator's stream handle as seen from outside the addon (tests only): the test doubles of cuBLAS and cuDNN
 * (native/emu/doubles/) receive tensile's cudaStream_t through cublasSetStream / cudnnSetStream, and must run their
 * work in that stream's order, after the kernels queued before the call. The emulator's symbols are hidden inside
 * the addon (and Node loads addons without RTLD_GLOBAL), so a double cannot call cudaLaunchHostFunc by name: instead
 * every emulated stream object begins with a pointer to this table, and a double calls through it.
 * Plain C, versioned: a double checks magic and version before it calls. The legacy stream (0) has no object and
 * is refused by the doubles. */
#ifndef TENSILE_EMU_STREAM_ABI_H
#define TENSILE_EMU_STREAM_ABI_H

#define TENSILE_EMU_STREAM_MAGIC 0x31455354u /* "TSE1" */
#define TENSILE_EMU_STREAM_VERSION 1u

struct tensile_emu_stream_abi {
  unsigned magic;   /* TENSILE_EMU_STREAM_MAGIC */
  unsigned version; /* TENSILE_EMU_STREAM_VERSION */
  /* cudaLaunchHostFunc(stream, fn, arg): queues fn(arg) on the stream; it runs on an emulator worker thread once
   * the work queued before it has completed, and the work queued after it waits for it. Returns a cudaError_t
   * (0: queued). On a device with a sticky error the function is dropped, not run. */
  int (*launch_host)(void* stream, void (*fn)(void*), void* arg);
};

/* The table of an emulated stream handle (the first word of the object it points to). */
static inline const struct tensile_emu_stream_abi* tensile_emu_stream_abi_of(void* stream) {
  return stream ? *(const struct tensile_emu_stream_abi* const*)stream : 0;
}

#endif
