// Host emulation of the few CUDA features shift_kernels.cu uses, for tests/emulated.rs: the
// kernels compile as plain C++ and one host thread runs every thread of the grid in turn.
// Sound because the kernels never synchronise threads or share memory between them; their
// atomics become plain adds.
#include <cstdint>

struct dim3 {
    unsigned x, y, z;
};
struct int4 {
    int x, y, z, w;
};
static dim3 threadIdx, blockIdx, blockDim, gridDim;

#define __global__
#define __device__
#define __forceinline__ inline

static inline unsigned long long atomicAdd(unsigned long long* at, unsigned long long v) {
    unsigned long long old = *at;
    *at = old + v;
    return old;
}

template <class P>
static void emu_launch(void (*kernel)(P), dim3 grid, dim3 block, const P* params) {
    gridDim = grid;
    blockDim = block;
    for (unsigned bz = 0; bz < grid.z; ++bz)
        for (unsigned by = 0; by < grid.y; ++by)
            for (unsigned bx = 0; bx < grid.x; ++bx)
                for (unsigned tz = 0; tz < block.z; ++tz)
                    for (unsigned ty = 0; ty < block.y; ++ty)
                        for (unsigned tx = 0; tx < block.x; ++tx) {
                            blockIdx = dim3{bx, by, bz};
                            threadIdx = dim3{tx, ty, tz};
                            kernel(*params);
                        }
}

#define EMU_EXPORT(name, P)                                                                    \
    extern "C" void emu_##name(dim3 grid, dim3 block, const P* params) {                       \
        emu_launch(name, grid, block, params);                                                 \
    }
