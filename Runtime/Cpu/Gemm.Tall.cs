using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ModelGen.Cpu;

public static unsafe partial class Gemm
{
    /// <summary>Rows of the tall AVX-512 micro-kernel (<see cref="Kernel12x32"/>) and of its packed op(A) slivers.</summary>
    const int TallMR = 12;

    /// <summary>
    /// The depth block of large AVX-512 products (at least <see cref="SharedThreshold"/> multiply-adds), twice
    /// <see cref="KC"/>: each tile of C is loaded and stored half as often (from L3 in the large products, where a
    /// 48-row block of C is 200 KB). The B sliver (512 × 32 floats, 64 KB) then streams from L2 instead of sitting in
    /// L1, which the 12 × 32 kernel, reading B once per 24 FMAs, affords. The panels keep their sizes in floats
    /// (half as many columns and rows), so the buffers do not grow. Measured on 2 Zen 4 cores (FMA peak ~232
    /// GFLOP/s), 1024³ NN, same process alternating (with the vectorized packing of both): 6 × 32 at depth 256
    /// 186-189 GFLOP/s median, 12 × 32 at 512 204-206 (0.88-0.89 of the peak); 1 thread 94-96 against 104.
    /// </summary>
    const int TallKC = 2 * KC;

    /// <summary>
    /// Whether large AVX-512 products use <see cref="TallKC"/> and the 12 × 32 kernel (true) or the 6 × 32 kernel at
    /// <see cref="KC"/>: a switch for the probe's same-process comparison (<c>-- gemm M N K [tA tB] [threads] ab</c>).
    /// </summary>
    internal static bool TallKernelEnabled = true;

    /// <summary>
    /// The depth block of a product. A function of the shape and SIMD level only, never of the thread count or the
    /// path taken, so that every path sums each element of C in the same order and results do not depend on threads
    /// (the 6 × 32 and 12 × 32 kernels compute the same chain of FMAs per element).
    /// </summary>
    static int DepthBlock(Args* g) =>
        TallKernelEnabled && g->Level == SimdLevel.Avx512 && (long)g->M * g->N * g->K >= SharedThreshold ? TallKC : KC;

    /// <summary>
    /// <see cref="Block"/> for large AVX-512 products with the 12 × 32 kernel: packs rows [ic, ic + mc) of op(A)
    /// (mc at most 48 at depth <see cref="TallKC"/>, what the packing buffer holds) as 12-row slivers, then runs
    /// <see cref="Kernel12x32"/> over every tile (partial tiles through <paramref name="edge"/>, at least 12 × 32 floats).
    /// </summary>
    static void BlockTall(Args* g, int ic, int mc, int rowEnd, int jc, int nc, int pc, int kc, float* packB, float* packA, float* edge)
    {
        const int nr = 32;
        int ldc = g->Ldc;
        bool load = pc > 0 || g->Accumulate;
        bool last = pc + kc == g->K;
        Activation act = last ? g->Activation : Activation.None;
        PackATall(g, ic, mc, rowEnd, pc, kc, packA);
        for (int jr = 0; jr < nc; jr += nr)
        {
            int nrEff = Math.Min(nr, nc - jr);
            float* bSliver = packB + (long)jr * kc;
            float* biasTile = last && g->Bias != null ? g->Bias + jc + jr : null;
            for (int ir = 0; ir < mc; ir += TallMR)
            {
                int mrEff = Math.Min(TallMR, mc - ir);
                float* aSliver = packA + (long)ir * kc;
                float* cTile = g->C + (long)(ic + ir) * ldc + jc + jr;
                if (mrEff == TallMR && nrEff == nr)
                {
                    Kernel12x32(kc, aSliver, bSliver, cTile, ldc, load, biasTile, act);
                }
                else
                {
                    Kernel12x32(kc, aSliver, bSliver, edge, nr, false, null, Activation.None);
                    MergeEdge(edge, nr, cTile, ldc, mrEff, nrEff, load, biasTile, act);
                }
            }
        }
    }

    /// <summary>Packs op(A)[rows ic .. ic+mc, depth pc .. pc+kc] as 12-row slivers, element (i, p) at [p·12 + i]; rows at or past rowEnd are zero.</summary>
    static void PackATall(Args* g, int ic, int mc, int rowEnd, int pc, int kc, float* dst)
    {
        float* a = g->A;
        long lda = g->Lda;
        for (int ir = 0; ir < mc; ir += TallMR, dst += TallMR * kc)
        {
            int r0 = ic + ir;
            int rows = Math.Min(TallMR, rowEnd - r0);
            if (!g->TransA && rows == TallMR)
            {
                // op(A)(i, p) = a[i·lda + p]: one value from each of the 12 row streams per depth step, written sequentially.
                float* s0 = a + r0 * lda + pc, s1 = s0 + lda, s2 = s1 + lda, s3 = s2 + lda, s4 = s3 + lda, s5 = s4 + lda;
                float* s6 = s5 + lda, s7 = s6 + lda, s8 = s7 + lda, s9 = s8 + lda, s10 = s9 + lda, s11 = s10 + lda;
                // Blocks of 8 depth steps as register transposes (an 8 × 8 of rows 0-7, two 4 × 4 of rows 8-11): the
                // scalar gather alone took 3-4 % of a 1024³ product (measured by skipping it).
                int p0 = 0;
                for (; p0 + 8 <= kc; p0 += 8)
                {
                    float* d8 = dst + p0 * TallMR;
                    Transpose8x8(s0 + p0, lda, d8, TallMR);
                    Transpose4x4(s8 + p0, lda, d8 + 8, TallMR);
                    Transpose4x4(s8 + p0 + 4, lda, d8 + 4 * TallMR + 8, TallMR);
                }
                float* d = dst + p0 * TallMR;
                for (int p = p0; p < kc; p++, d += TallMR)
                {
                    d[0] = s0[p]; d[1] = s1[p]; d[2] = s2[p]; d[3] = s3[p]; d[4] = s4[p]; d[5] = s5[p];
                    d[6] = s6[p]; d[7] = s7[p]; d[8] = s8[p]; d[9] = s9[p]; d[10] = s10[p]; d[11] = s11[p];
                }
            }
            else if (!g->TransA)
            {
                for (int p = 0; p < kc; p++)
                {
                    float* d = dst + p * TallMR;
                    int i = 0;
                    for (; i < rows; i++)
                        d[i] = a[(r0 + i) * lda + pc + p];
                    for (; i < TallMR; i++)
                        d[i] = 0f;
                }
            }
            else if (rows == TallMR)
            {
                // op(A)(i, p) = a[p·lda + i]: 12 consecutive floats per depth step, one ymm and one xmm copy (+5-6 %
                // over a scalar copy at 1024³ with Aᵀ, 2 threads, same process alternating).
                float* s = a + pc * lda + r0;
                float* d = dst;
                for (int p = 0; p < kc; p++, s += lda, d += TallMR)
                {
                    Vector256.Store(Vector256.Load(s), d);
                    Vector128.Store(Vector128.Load(s + 8), d + 8);
                }
            }
            else
            {
                // A partial sliver of Aᵀ: the rows past rowEnd are zero.
                for (int p = 0; p < kc; p++)
                {
                    float* s = a + (pc + p) * lda + r0;
                    float* d = dst + p * TallMR;
                    int i = 0;
                    for (; i < rows; i++)
                        d[i] = s[i];
                    for (; i < TallMR; i++)
                        d[i] = 0f;
                }
            }
        }
    }

    /// <summary>Writes the transpose of the 4 × 4 block at <paramref name="src"/> (row stride <paramref name="lds"/>) to <paramref name="dst"/> (row stride <paramref name="ldd"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Transpose4x4(float* src, long lds, float* dst, long ldd)
    {
        Vector128<float> r0 = Sse.LoadVector128(src), r1 = Sse.LoadVector128(src + lds);
        Vector128<float> r2 = Sse.LoadVector128(src + 2 * lds), r3 = Sse.LoadVector128(src + 3 * lds);
        Vector128<float> t0 = Sse.UnpackLow(r0, r1), t1 = Sse.UnpackLow(r2, r3);
        Vector128<float> t2 = Sse.UnpackHigh(r0, r1), t3 = Sse.UnpackHigh(r2, r3);
        Sse.Store(dst, Sse.MoveLowToHigh(t0, t1));
        Sse.Store(dst + ldd, Sse.MoveHighToLow(t1, t0));
        Sse.Store(dst + 2 * ldd, Sse.MoveLowToHigh(t2, t3));
        Sse.Store(dst + 3 * ldd, Sse.MoveHighToLow(t3, t2));
    }

    /// <summary>
    /// The tall AVX-512 micro-kernel: a 12 × 32 tile in 24 zmm accumulators (of the 32); per depth step 2 loads of B
    /// and 12 broadcasts of A for 24 FMAs, half the loads per FMA of <see cref="Kernel6x32"/>, and each C tile is
    /// loaded and stored once per depth block for twice the work.
    /// </summary>
    static void Kernel12x32(int kc, float* a, float* b, float* c, int ldc, bool load, float* bias, Activation act)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector512<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        Vector512<float> c60 = default, c61 = default, c70 = default, c71 = default, c80 = default, c81 = default;
        Vector512<float> c90 = default, c91 = default, ca0 = default, ca1 = default, cb0 = default, cb1 = default;
        // The tile of C is loaded (or written) after the loop; its 24 lines are mostly in L3 by then. Asking for
        // them now overlaps that latency with the FMAs (+1 % at 1024³, same process alternating).
        float* pf = c;
        for (int i = 0; i < TallMR; i++, pf += ldc)
        {
            Sse.Prefetch0(pf);
            Sse.Prefetch0(pf + 16);
        }
        for (int p = 0; p < kc; p++)
        {
            Vector512<float> b0 = Vector512.Load(b);
            Vector512<float> b1 = Vector512.Load(b + 16);
            Vector512<float> x = Vector512.Create(a[0]);
            c00 = Vector512.FusedMultiplyAdd(x, b0, c00); c01 = Vector512.FusedMultiplyAdd(x, b1, c01);
            x = Vector512.Create(a[1]);
            c10 = Vector512.FusedMultiplyAdd(x, b0, c10); c11 = Vector512.FusedMultiplyAdd(x, b1, c11);
            x = Vector512.Create(a[2]);
            c20 = Vector512.FusedMultiplyAdd(x, b0, c20); c21 = Vector512.FusedMultiplyAdd(x, b1, c21);
            x = Vector512.Create(a[3]);
            c30 = Vector512.FusedMultiplyAdd(x, b0, c30); c31 = Vector512.FusedMultiplyAdd(x, b1, c31);
            x = Vector512.Create(a[4]);
            c40 = Vector512.FusedMultiplyAdd(x, b0, c40); c41 = Vector512.FusedMultiplyAdd(x, b1, c41);
            x = Vector512.Create(a[5]);
            c50 = Vector512.FusedMultiplyAdd(x, b0, c50); c51 = Vector512.FusedMultiplyAdd(x, b1, c51);
            x = Vector512.Create(a[6]);
            c60 = Vector512.FusedMultiplyAdd(x, b0, c60); c61 = Vector512.FusedMultiplyAdd(x, b1, c61);
            x = Vector512.Create(a[7]);
            c70 = Vector512.FusedMultiplyAdd(x, b0, c70); c71 = Vector512.FusedMultiplyAdd(x, b1, c71);
            x = Vector512.Create(a[8]);
            c80 = Vector512.FusedMultiplyAdd(x, b0, c80); c81 = Vector512.FusedMultiplyAdd(x, b1, c81);
            x = Vector512.Create(a[9]);
            c90 = Vector512.FusedMultiplyAdd(x, b0, c90); c91 = Vector512.FusedMultiplyAdd(x, b1, c91);
            x = Vector512.Create(a[10]);
            ca0 = Vector512.FusedMultiplyAdd(x, b0, ca0); ca1 = Vector512.FusedMultiplyAdd(x, b1, ca1);
            x = Vector512.Create(a[11]);
            cb0 = Vector512.FusedMultiplyAdd(x, b0, cb0); cb1 = Vector512.FusedMultiplyAdd(x, b1, cb1);
            a += TallMR;
            b += 32;
        }
        long ld = ldc;
        float* c0 = c;
        Store512(c, c00, load); Store512(c + 16, c01, load);
        c += ld;
        Store512(c, c10, load); Store512(c + 16, c11, load);
        c += ld;
        Store512(c, c20, load); Store512(c + 16, c21, load);
        c += ld;
        Store512(c, c30, load); Store512(c + 16, c31, load);
        c += ld;
        Store512(c, c40, load); Store512(c + 16, c41, load);
        c += ld;
        Store512(c, c50, load); Store512(c + 16, c51, load);
        c += ld;
        Store512(c, c60, load); Store512(c + 16, c61, load);
        c += ld;
        Store512(c, c70, load); Store512(c + 16, c71, load);
        c += ld;
        Store512(c, c80, load); Store512(c + 16, c81, load);
        c += ld;
        Store512(c, c90, load); Store512(c + 16, c91, load);
        c += ld;
        Store512(c, ca0, load); Store512(c + 16, ca1, load);
        c += ld;
        Store512(c, cb0, load); Store512(c + 16, cb1, load);
        if (bias != null || act != Activation.None)
        {
            Epilogue512(c0, ldc, bias, act);
            Epilogue512(c0 + MR * ld, ldc, bias, act);
        }
    }
}
