// Exact integer shift kernels (shift-kernels-cuda). The PTX in ../ptx/ is generated from this
// file by `cargo xtask cuda-ptx` (NVRTC, compute_80) and committed; the crate embeds that PTX.
//
// Semantics (as shift-kernels-cpu): weights are shift-core packed codes (`bits` per code, top
// bit the sign, low bits m; Binary/Q: p = -m; Ternary/PS: m = 0 is zero, p = -(m - 1)); every
// term is sign * (q << s) with s = p - p_min = base - m >= 0, summed exactly into i64 totals
// that start from the bias on the kernels' scale (`init`). The host checks the accumulator
// rule before any launch: in the i32 kernels a window of `flush_words` packed words cannot
// leave i32 (flushed into the i64 total after each window); the i64 kernels need only the
// 64-bit rule. Integer sums do not depend on the order, so every launch shape (split K,
// atomics) gives the CPU's result bit for bit.
//
// No multiplications in the loops: codes are taken with shifts and masks, the weight's
// magnitude is the shift s, the sign is (v ^ sgn) - sgn, the zero code of Ternary a mask, and
// every address is a pointer advanced by a stride computed before the loop. The crate's test
// `ptx_loops_have_no_multiply` checks the PTX of every loop body for mul/mad.
//
// Built three ways: by NVRTC for the GPU, and as plain C++ (SHIFT_EMU, tests/emulated.rs)
// with one host thread running the grid, so the very same code is tested without a GPU.

#ifdef SHIFT_EMU
#include "emu.h"
#else
#define EMU_EXPORT(name, P)
#endif

typedef int i32;
typedef unsigned int u32;
typedef long long i64;
typedef unsigned long long u64;

// Matrix-vector (batch 1): one thread per row, the words of a slice of K. Weights are
// interleaved (word j of row r at words[j * rows + r]) so a warp's loads are coalesced; the
// input is read by every thread of a warp at once (a broadcast). Slices add their partial
// sums with 64-bit integer atomics into `out`, which the host zeroes; slice 0 adds the bias.
struct GemvParams {
    const u64* words;
    const i32* x;
    const i64* init;
    u64* out;
    u32 rows, cols, bits, per_word;
    u32 words_per_row, words_per_slice;
    i32 base;
    u32 flush_words;
};

// Matrix-matrix: x is [cols][npad] (transposed, npad a multiple of 4, zero columns past the
// batch), out is [rows][npad]. A thread holds 4 rows x 4 columns: one int4 load per input and
// 4 decodes per code feed 16 terms; the 4 rows are the same for the whole block (broadcast).
struct GemmParams {
    const u64* words;
    const i32* x;
    const i64* init;
    i64* out;
    u32 rows, cols, bits, per_word, words_per_row, npad;
    i32 base;
    u32 flush_words;
};

// Convolution as an implicit GEMM: one thread per output position (n, oy, ox), R output
// channels of one group per block row; the input window is walked with running offsets and
// bounds tests (zero padding), never materialised. Output in [batch][oc][oh][ow] order.
struct ConvParams {
    const u64* words;
    const i32* x;
    const i64* init;
    i64* out;
    u32 rows, cols, bits, per_word, words_per_row;
    i32 base;
    u32 flush_words;
    u32 batch, in_ch, height, width, kh, kw, sh, sw, ph, pw, dh, dw, cg, og, oh, ow;
    // height * width and dh * width, computed by the host so that no loop holds a product
    u32 plane, row_step;
};

__device__ __forceinline__ u32 umin32(u32 a, u32 b) { return a < b ? a : b; }

// One decoded code: the left shift, the sign as 0 / all ones, and the zero mask.
struct Dec {
    u32 s, sgn, keep;
};

template <bool TERN>
__device__ __forceinline__ Dec decode(u32 code, u32 sign_at, u32 mmask, i32 base) {
    Dec d;
    u32 m = code & mmask;
    d.sgn = 0u - (code >> sign_at);
    d.s = (u32)(base - (i32)m);
    d.keep = TERN ? 0u - (u32)(m != 0) : ~0u;
    return d;
}

// sign * (x << s) added to a 32-bit run (u32 arithmetic: the rule keeps it inside i32).
__device__ __forceinline__ void add32(u32& acc, i32 x, const Dec& d) {
    u32 t = ((u32)x & d.keep) << (d.s & 31u);
    acc += (t ^ d.sgn) - d.sgn;
}

// sign * (x << s) added to a 64-bit total.
__device__ __forceinline__ void add64(u64& tot, i32 x, const Dec& d) {
    u64 keep = (u64)(i64)(i32)d.keep, sgn = (u64)(i64)(i32)d.sgn;
    u64 t = ((u64)(i64)x & keep) << umin32(d.s, 63u);
    tot += (t ^ sgn) - sgn;
}

template <bool WIDE, bool TERN>
__device__ __forceinline__ void gemv_body(const GemvParams& p) {
    u32 r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= p.rows) return;
    u32 w0 = blockIdx.y * p.words_per_slice;
    if (w0 >= p.words_per_row) return;
    u32 w1 = umin32(w0 + p.words_per_slice, p.words_per_row);
    u32 k = w0 * p.per_word;
    const u64* wp = p.words + (u64)w0 * p.rows + r;
    const i32* xp = p.x + k;
    const u32 sign_at = p.bits - 1, mmask = (1u << sign_at) - 1, cmask = (1u << p.bits) - 1;
    const u64 wstride = p.rows;
    u64 tot = blockIdx.y == 0 ? (u64)p.init[r] : 0;
    u32 acc = 0, left = p.flush_words;
    for (u32 j = w0; j < w1; ++j) {
        u64 word = *wp;
        wp += wstride;
        u32 n = umin32(p.per_word, p.cols - k);
        k += n;
        for (u32 c = 0; c < n; ++c) {
            Dec d = decode<TERN>((u32)word & cmask, sign_at, mmask, p.base);
            word >>= p.bits;
            if (WIDE) add64(tot, *xp, d); else add32(acc, *xp, d);
            ++xp;
        }
        if (!WIDE && --left == 0) {
            tot += (u64)(i64)(i32)acc;
            acc = 0;
            left = p.flush_words;
        }
    }
    if (!WIDE) tot += (u64)(i64)(i32)acc;
    atomicAdd(p.out + r, tot);
}

template <bool WIDE, bool TERN>
__device__ __forceinline__ void gemm_body(const GemmParams& p) {
    u32 t = blockIdx.x * blockDim.x + threadIdx.x;
    if ((t << 2) >= p.npad) return;
    u32 r0 = blockIdx.y << 2;
    const u64* wp[4];
    #pragma unroll
    for (u32 i = 0; i < 4; ++i) wp[i] = p.words + umin32(r0 + i, p.rows - 1);
    const u32 sign_at = p.bits - 1, mmask = (1u << sign_at) - 1, cmask = (1u << p.bits) - 1;
    const u64 wstride = p.rows, xstride = p.npad >> 2;
    const int4* xp = reinterpret_cast<const int4*>(p.x) + t;
    u64 tot[4][4];
    u32 acc[4][4];
    #pragma unroll
    for (u32 i = 0; i < 4; ++i) {
        u64 b = (u64)p.init[umin32(r0 + i, p.rows - 1)];
        #pragma unroll
        for (u32 c = 0; c < 4; ++c) {
            tot[i][c] = b;
            acc[i][c] = 0;
        }
    }
    u32 k = 0, left = p.flush_words;
    for (u32 j = 0; j < p.words_per_row; ++j) {
        u64 word[4];
        #pragma unroll
        for (u32 i = 0; i < 4; ++i) {
            word[i] = *wp[i];
            wp[i] += wstride;
        }
        u32 n = umin32(p.per_word, p.cols - k);
        k += n;
        for (u32 c = 0; c < n; ++c) {
            int4 x4 = *xp;
            xp += xstride;
            #pragma unroll
            for (u32 i = 0; i < 4; ++i) {
                Dec d = decode<TERN>((u32)word[i] & cmask, sign_at, mmask, p.base);
                word[i] >>= p.bits;
                if (WIDE) {
                    add64(tot[i][0], x4.x, d);
                    add64(tot[i][1], x4.y, d);
                    add64(tot[i][2], x4.z, d);
                    add64(tot[i][3], x4.w, d);
                } else {
                    add32(acc[i][0], x4.x, d);
                    add32(acc[i][1], x4.y, d);
                    add32(acc[i][2], x4.z, d);
                    add32(acc[i][3], x4.w, d);
                }
            }
        }
        if (!WIDE && --left == 0) {
            #pragma unroll
            for (u32 i = 0; i < 4; ++i) {
                #pragma unroll
                for (u32 c = 0; c < 4; ++c) {
                    tot[i][c] += (u64)(i64)(i32)acc[i][c];
                    acc[i][c] = 0;
                }
            }
            left = p.flush_words;
        }
    }
    #pragma unroll
    for (u32 i = 0; i < 4; ++i) {
        if (r0 + i >= p.rows) break;
        i64* o = p.out + (u64)(r0 + i) * p.npad + ((u64)t << 2);
        #pragma unroll
        for (u32 c = 0; c < 4; ++c) {
            u64 v = tot[i][c];
            if (!WIDE) v += (u64)(i64)(i32)acc[i][c];
            o[c] = (i64)v;
        }
    }
}

template <bool WIDE, bool TERN, u32 R>
__device__ __forceinline__ void conv_body(const ConvParams& p) {
    u32 j = blockIdx.x * blockDim.x + threadIdx.x;
    u32 ox = j % p.ow, q = j / p.ow, oy = q % p.oh, n = q / p.oh;
    if (n >= p.batch) return;
    u32 o0 = blockIdx.y * R;
    u32 g = o0 / p.og;
    const u64 hw = p.plane;
    const i32* chan = p.x + ((u64)n * p.in_ch + (u64)g * p.cg) * hw;
    const i32 iy0 = (i32)(oy * p.sh) - (i32)p.ph, ix0 = (i32)(ox * p.sw) - (i32)p.pw;
    const u64 row_step = p.row_step;
    const u32 sign_at = p.bits - 1, mmask = (1u << sign_at) - 1, cmask = (1u << p.bits) - 1;
    const u64 wstride = p.rows;
    const u64* wp[R];
    u64 tot[R], word[R];
    u32 acc[R];
    #pragma unroll
    for (u32 i = 0; i < R; ++i) {
        wp[i] = p.words + o0 + i;
        tot[i] = (u64)p.init[o0 + i];
        acc[i] = 0;
        word[i] = 0;
    }
    u32 codes_left = 0, left = p.flush_words;
    const i64 row0 = (i64)iy0 * (i64)p.width;
    #pragma unroll 1
    for (u32 ci = 0; ci < p.cg; ++ci) {
        i32 iy = iy0;
        const i32* row = chan + row0;
        #pragma unroll 1
        for (u32 ky = 0; ky < p.kh; ++ky) {
            bool row_in = (u32)iy < p.height;
            i32 ix = ix0;
            const i32* px = row + ix0;
            #pragma unroll 1
            for (u32 kx = 0; kx < p.kw; ++kx) {
                if (codes_left == 0) {
                    if (!WIDE && left-- == 0) {
                        #pragma unroll
                        for (u32 i = 0; i < R; ++i) {
                            tot[i] += (u64)(i64)(i32)acc[i];
                            acc[i] = 0;
                        }
                        left = p.flush_words - 1;
                    }
                    #pragma unroll
                    for (u32 i = 0; i < R; ++i) {
                        word[i] = *wp[i];
                        wp[i] += wstride;
                    }
                    codes_left = p.per_word;
                }
                --codes_left;
                i32 v = (row_in && (u32)ix < p.width) ? *px : 0;
                #pragma unroll
                for (u32 i = 0; i < R; ++i) {
                    Dec d = decode<TERN>((u32)word[i] & cmask, sign_at, mmask, p.base);
                    word[i] >>= p.bits;
                    if (WIDE) add64(tot[i], v, d); else add32(acc[i], v, d);
                }
                ix += (i32)p.dw;
                px += p.dw;
            }
            iy += (i32)p.dh;
            row += row_step;
        }
        chan += hw;
    }
    const u64 plane = (u64)p.oh * p.ow;
    i64* out = p.out + ((u64)n * p.rows + o0) * plane + (u64)oy * p.ow + ox;
    #pragma unroll
    for (u32 i = 0; i < R; ++i) {
        u64 v = tot[i];
        if (!WIDE) v += (u64)(i64)(i32)acc[i];
        *out = (i64)v;
        out += plane;
    }
}

#define GEMV(name, W, T)                                                                       \
    extern "C" __global__ void name(GemvParams p) { gemv_body<W, T>(p); }                       \
    EMU_EXPORT(name, GemvParams)
#define GEMM(name, W, T)                                                                       \
    extern "C" __global__ void name(GemmParams p) { gemm_body<W, T>(p); }                       \
    EMU_EXPORT(name, GemmParams)
#define CONV(name, W, T, R)                                                                    \
    extern "C" __global__ void name(ConvParams p) { conv_body<W, T, R>(p); }                    \
    EMU_EXPORT(name, ConvParams)

GEMV(shift_gemv_i32_bin, false, false)
GEMV(shift_gemv_i32_ter, false, true)
GEMV(shift_gemv_i64_bin, true, false)
GEMV(shift_gemv_i64_ter, true, true)
GEMM(shift_gemm_i32_bin, false, false)
GEMM(shift_gemm_i32_ter, false, true)
GEMM(shift_gemm_i64_bin, true, false)
GEMM(shift_gemm_i64_ter, true, true)
CONV(shift_conv1_i32_bin, false, false, 1)
CONV(shift_conv1_i32_ter, false, true, 1)
CONV(shift_conv1_i64_bin, true, false, 1)
CONV(shift_conv1_i64_ter, true, true, 1)
CONV(shift_conv4_i32_bin, false, false, 4)
CONV(shift_conv4_i32_ter, false, true, 4)
CONV(shift_conv4_i64_bin, true, false, 4)
CONV(shift_conv4_i64_ter, true, true, 4)
