using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ModelGen.Cpu;

// Implicit-GEMM convolution (stride 1, dilation 1, one group), the column matrix never materialized. Each image is
// copied into a zero-bordered "pitched" layout: every channel plane has rows of P = W + p floats (the p zeros after a
// row are both its right padding and the next row's left padding), p zero rows above and enough below, so that the
// tap (u, v) of output position t = i·P + j (j < P; the columns j ≥ Wo are junk, computed and dropped) is simply
//     xpad[c·S + t + u·P + v]                                      (S: the plane's length in the pitched layout)
// a contiguous run in t for every (c, u, v). The micro-kernels read op(A) straight from there:
//   forward / data gradient   C (positions × out channels) = Σ over taps and channels  xpad[c, t + tap] · B[(tap, c), o]
//                             with B the weights packed once per call into NR-column slivers; 6 consecutive positions
//                             are 6 consecutive floats, so a tile's A sliver is 6 broadcasts from one cache line.
//   weight gradient           dWᵀ ((c, u, v) × out channels) += Σ over positions t  xpad[c·S + u·P + v + t] · dyᵀ[t, o]
//                             with dyᵀ packed per image, the depth walking the valid positions row by row.
// The (positions × channels) results are transposed into channel planes (with bias and activation) 8 × 8 at a time.
public static unsafe partial class Gemm
{
    /// <summary>Column-sliver width of the convolution micro-kernels at <paramref name="level"/> (AVX-512 or AVX2).</summary>
    internal static int ConvNr(SimdLevel level) => level == SimdLevel.Avx512 ? 32 : 16;

    /// <summary>
    /// Packs the weights of a convolution from <paramref name="inC"/> to <paramref name="outC"/> channels as the B operand
    /// of <see cref="ConvForwardImage"/>: row (tap, c) of sliver s holds the nr output channels s·nr .. s·nr + nr − 1
    /// (zero past outC). Forward: w is outC × inC × k × k. Flipped (the data gradient as a convolution of dy): w is the
    /// forward weight inC × outC × k × k read with its taps reversed, so that B[(u, v, c), o] = w[c, o, k−1−u, k−1−v].
    /// </summary>
    internal static void PackConvWeights(float* w, int inC, int outC, int k, bool flipped, int nr, float* dst)
    {
        int taps = k * k, depth = taps * inC, slivers = (outC + nr - 1) / nr;
        for (int s = 0; s < slivers; s++)
        for (int tap = 0; tap < taps; tap++)
        for (int c = 0; c < inC; c++)
        {
            float* d = dst + ((long)s * depth + tap * inC + c) * nr;
            for (int j = 0; j < nr; j++)
            {
                int o = s * nr + j;
                d[j] = o >= outC ? 0f
                    : flipped ? w[((long)c * outC + o) * taps + taps - 1 - tap]
                    : w[((long)o * inC + c) * taps + tap];
            }
        }
    }

    /// <summary>
    /// One image of the implicit forward product: scratch (mpad × ldc) = Σ xpad[c·S + t + tapOff[tap]] · B[(tap, c), ·]
    /// for the positions t &lt; mpad (a multiple of 6), every sliver of the packed weights.
    /// </summary>
    internal static void ConvForwardImage(SimdLevel level, float* xpad, int planeStride, int inC, int* tapOff, int taps,
        float* packedW, int slivers, int mpad, float* scratch, int ldc)
    {
        int nr = ConvNr(level);
        long depth = (long)taps * inC;
        for (int t0 = 0; t0 < mpad; t0 += MR)
        for (int s = 0; s < slivers; s++)
        {
            if (level == SimdLevel.Avx512)
                ConvTaps6x32(xpad + t0, tapOff, taps, inC, planeStride, packedW + s * depth * nr, scratch + (long)t0 * ldc + s * nr, ldc);
            else
                ConvTaps6x16(xpad + t0, tapOff, taps, inC, planeStride, packedW + s * depth * nr, scratch + (long)t0 * ldc + s * nr, ldc);
        }
    }

    /// <summary>
    /// 6 × 32 tile of the implicit forward product: positions a[0..5] (+ tap offset + c·stride) against a 32-column
    /// sliver of packed weights, depth (tap, c); 12 zmm accumulators, per depth step 2 loads of B, 6 broadcasts, 12 FMAs.
    /// </summary>
    static void ConvTaps6x32(float* a, int* tapOff, int taps, int channels, long stride, float* b, float* c, int ldc)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector512<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int tap = 0; tap < taps; tap++)
        {
            float* p = a + tapOff[tap];
            for (int ch = 0; ch < channels; ch++, p += stride, b += 32)
            {
                Vector512<float> b0 = Vector512.Load(b);
                Vector512<float> b1 = Vector512.Load(b + 16);
                Vector512<float> x = Vector512.Create(p[0]);
                c00 = Vector512.FusedMultiplyAdd(x, b0, c00); c01 = Vector512.FusedMultiplyAdd(x, b1, c01);
                x = Vector512.Create(p[1]);
                c10 = Vector512.FusedMultiplyAdd(x, b0, c10); c11 = Vector512.FusedMultiplyAdd(x, b1, c11);
                x = Vector512.Create(p[2]);
                c20 = Vector512.FusedMultiplyAdd(x, b0, c20); c21 = Vector512.FusedMultiplyAdd(x, b1, c21);
                x = Vector512.Create(p[3]);
                c30 = Vector512.FusedMultiplyAdd(x, b0, c30); c31 = Vector512.FusedMultiplyAdd(x, b1, c31);
                x = Vector512.Create(p[4]);
                c40 = Vector512.FusedMultiplyAdd(x, b0, c40); c41 = Vector512.FusedMultiplyAdd(x, b1, c41);
                x = Vector512.Create(p[5]);
                c50 = Vector512.FusedMultiplyAdd(x, b0, c50); c51 = Vector512.FusedMultiplyAdd(x, b1, c51);
            }
        }
        long ld = ldc;
        c00.Store(c); c01.Store(c + 16); c += ld;
        c10.Store(c); c11.Store(c + 16); c += ld;
        c20.Store(c); c21.Store(c + 16); c += ld;
        c30.Store(c); c31.Store(c + 16); c += ld;
        c40.Store(c); c41.Store(c + 16); c += ld;
        c50.Store(c); c51.Store(c + 16);
    }

    /// <summary><see cref="ConvTaps6x32"/> with Vector256: a 6 × 16 tile in 12 ymm accumulators.</summary>
    static void ConvTaps6x16(float* a, int* tapOff, int taps, int channels, long stride, float* b, float* c, int ldc)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int tap = 0; tap < taps; tap++)
        {
            float* p = a + tapOff[tap];
            for (int ch = 0; ch < channels; ch++, p += stride, b += 16)
            {
                Vector256<float> b0 = Vector256.Load(b);
                Vector256<float> b1 = Vector256.Load(b + 8);
                Vector256<float> x = Vector256.Create(p[0]);
                c00 = Vector256.FusedMultiplyAdd(x, b0, c00); c01 = Vector256.FusedMultiplyAdd(x, b1, c01);
                x = Vector256.Create(p[1]);
                c10 = Vector256.FusedMultiplyAdd(x, b0, c10); c11 = Vector256.FusedMultiplyAdd(x, b1, c11);
                x = Vector256.Create(p[2]);
                c20 = Vector256.FusedMultiplyAdd(x, b0, c20); c21 = Vector256.FusedMultiplyAdd(x, b1, c21);
                x = Vector256.Create(p[3]);
                c30 = Vector256.FusedMultiplyAdd(x, b0, c30); c31 = Vector256.FusedMultiplyAdd(x, b1, c31);
                x = Vector256.Create(p[4]);
                c40 = Vector256.FusedMultiplyAdd(x, b0, c40); c41 = Vector256.FusedMultiplyAdd(x, b1, c41);
                x = Vector256.Create(p[5]);
                c50 = Vector256.FusedMultiplyAdd(x, b0, c50); c51 = Vector256.FusedMultiplyAdd(x, b1, c51);
            }
        }
        long ld = ldc;
        c00.Store(c); c01.Store(c + 8); c += ld;
        c10.Store(c); c11.Store(c + 8); c += ld;
        c20.Store(c); c21.Store(c + 8); c += ld;
        c30.Store(c); c31.Store(c + 8); c += ld;
        c40.Store(c); c41.Store(c + 8); c += ld;
        c50.Store(c); c51.Store(c + 8);
    }

    /// <summary>
    /// y[o, i·wo + j] = act(scratch[(i·pitch + j)·ldc + o] + bias[o]) for o &lt; outC, i &lt; ho, j &lt; wo: the
    /// (positions × channels) product of <see cref="ConvForwardImage"/> into channel planes, by 8 × 8 transposes
    /// (the last block of a row overlaps the one before it), the bias and activation applied on the way.
    /// </summary>
    internal static void ConvScatterOut(float* scratch, int ldc, int pitch, int ho, int wo, int outC, float* y, float* bias, Activation act)
    {
        int hw = ho * wo;
        int fullC = Avx.IsSupported && wo >= 8 ? outC / 8 * 8 : 0;
        for (int i = 0; i < ho; i++)
        {
            if (fullC > 0)
            {
                for (int j = 0; ; j += 8)
                {
                    if (j > wo - 8) j = wo - 8;
                    float* src = scratch + (long)(i * pitch + j) * ldc;
                    float* dst = y + i * wo + j;
                    for (int o = 0; o < fullC; o += 8)
                        TransposeOut8x8(src + o, ldc, dst + (long)o * hw, hw, bias != null ? bias + o : null, act);
                    if (j == wo - 8) break;
                }
            }
            for (int o = fullC; o < outC; o++)
            {
                float b = bias != null ? bias[o] : 0f;
                float* dst = y + (long)o * hw + i * wo;
                float* src = scratch + (long)i * pitch * ldc + o;
                for (int j = 0; j < wo; j++) dst[j] = ApplyScalar(src[(long)j * ldc] + b, act);
            }
        }
    }

    /// <summary><see cref="Transpose8x8"/> with bias[r] added to output row r and the activation applied.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void TransposeOut8x8(float* src, long lds, float* dst, long ldd, float* bias, Activation act)
    {
        Transpose8x8Rows(src, lds, out var v0, out var v1, out var v2, out var v3, out var v4, out var v5, out var v6, out var v7);
        if (bias != null)
        {
            v0 += Vector256.Create(bias[0]); v1 += Vector256.Create(bias[1]);
            v2 += Vector256.Create(bias[2]); v3 += Vector256.Create(bias[3]);
            v4 += Vector256.Create(bias[4]); v5 += Vector256.Create(bias[5]);
            v6 += Vector256.Create(bias[6]); v7 += Vector256.Create(bias[7]);
        }
        if (act == Activation.None)
        {
            v0.Store(dst); v1.Store(dst + ldd); v2.Store(dst + 2 * ldd); v3.Store(dst + 3 * ldd);
            v4.Store(dst + 4 * ldd); v5.Store(dst + 5 * ldd); v6.Store(dst + 6 * ldd); v7.Store(dst + 7 * ldd);
            return;
        }
        Apply256(dst, v0, act); Apply256(dst + ldd, v1, act); Apply256(dst + 2 * ldd, v2, act); Apply256(dst + 3 * ldd, v3, act);
        Apply256(dst + 4 * ldd, v4, act); Apply256(dst + 5 * ldd, v5, act); Apply256(dst + 6 * ldd, v6, act); Apply256(dst + 7 * ldd, v7, act);
    }

    /// <summary>
    /// Packs one image's output gradient dy (outC × ho × wo) as the B operand of <see cref="ConvWeightImage"/>:
    /// sliver s, row t = i·pitch + j holds dy[s·nr .. s·nr + nr − 1, i, j]. Only valid positions and channels are
    /// written: the caller clears the buffer once, so junk positions and padding channels stay zero.
    /// </summary>
    internal static void PackConvGradient(float* dy, int outC, int ho, int wo, int pitch, int nr, int depth, float* dst)
    {
        int hw = ho * wo;
        int fullC = Avx.IsSupported && wo >= 8 ? outC / 8 * 8 : 0;
        for (int i = 0; i < ho; i++)
        {
            if (fullC > 0)
            {
                for (int j = 0; ; j += 8)
                {
                    if (j > wo - 8) j = wo - 8;
                    for (int o = 0; o < fullC; o += 8)
                    {
                        int s = o / nr;
                        Transpose8x8(dy + (long)o * hw + i * wo + j, hw, dst + ((long)s * depth + i * pitch + j) * nr + o - s * nr, nr);
                    }
                    if (j == wo - 8) break;
                }
            }
            for (int o = fullC; o < outC; o++)
            {
                int s = o / nr;
                float* src = dy + (long)o * hw + i * wo;
                float* d = dst + ((long)s * depth + i * pitch) * nr + o - s * nr;
                for (int j = 0; j < wo; j++) d[(long)j * nr] = src[j];
            }
        }
    }

    /// <summary>
    /// One image of the implicit weight gradient: partial (rows × ldc) (+)= A · packed dyᵀ over the ho·wo valid output
    /// positions, where row r = (c, u, v) of A holds xpad[c·S + u·P + v + i·P + j] at depth i·wo + j (rows past
    /// <paramref name="m"/>, up to the next multiple of 6, repeat row 0 and are dropped by the caller), every sliver.
    /// </summary>
    internal static void ConvWeightImage(SimdLevel level, float* xpad, int m, int k, int planeStride, int pitch, int ho, int wo, float* packedDy, int slivers,
        float* partial, int ldc, bool load)
    {
        int nr = ConvNr(level), taps = k * k, depth = ho * wo;
        long* o = stackalloc long[MR];
        for (int s = 0; s < slivers; s++)
        for (int r = 0; r < m; r += MR)
        {
            for (int i = 0; i < MR; i++)
            {
                int row = r + i < m ? r + i : 0, tap = row % taps;
                o[i] = (long)(row / taps) * planeStride + tap / k * pitch + tap % k;
            }
            float* b = packedDy + (long)s * depth * nr;
            float* c = partial + (long)r * ldc + s * nr;
            if (level == SimdLevel.Avx512)
                ConvRows6x32(xpad + o[0], xpad + o[1], xpad + o[2], xpad + o[3], xpad + o[4], xpad + o[5], ho, wo, pitch, b, c, ldc, load);
            else
                ConvRows6x16(xpad + o[0], xpad + o[1], xpad + o[2], xpad + o[3], xpad + o[4], xpad + o[5], ho, wo, pitch, b, c, ldc, load);
        }
    }

    /// <summary>
    /// A 6 × 32 tile whose A rows are six arbitrary runs (a0..a5): the depth is segments × kc, segment s of row r the
    /// kc floats at a_r + s·segmentStride (an output row of positions, without the pitched layout's junk columns).
    /// </summary>
    static void ConvRows6x32(float* a0, float* a1, float* a2, float* a3, float* a4, float* a5, int segments, int kc, long segmentStride,
        float* b, float* c, int ldc, bool load)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector512<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int seg = 0; seg < segments; seg++, a0 += segmentStride, a1 += segmentStride, a2 += segmentStride, a3 += segmentStride, a4 += segmentStride, a5 += segmentStride)
        for (int p = 0; p < kc; p++, b += 32)
        {
            Vector512<float> b0 = Vector512.Load(b);
            Vector512<float> b1 = Vector512.Load(b + 16);
            Vector512<float> x = Vector512.Create(a0[p]);
            c00 = Vector512.FusedMultiplyAdd(x, b0, c00); c01 = Vector512.FusedMultiplyAdd(x, b1, c01);
            x = Vector512.Create(a1[p]);
            c10 = Vector512.FusedMultiplyAdd(x, b0, c10); c11 = Vector512.FusedMultiplyAdd(x, b1, c11);
            x = Vector512.Create(a2[p]);
            c20 = Vector512.FusedMultiplyAdd(x, b0, c20); c21 = Vector512.FusedMultiplyAdd(x, b1, c21);
            x = Vector512.Create(a3[p]);
            c30 = Vector512.FusedMultiplyAdd(x, b0, c30); c31 = Vector512.FusedMultiplyAdd(x, b1, c31);
            x = Vector512.Create(a4[p]);
            c40 = Vector512.FusedMultiplyAdd(x, b0, c40); c41 = Vector512.FusedMultiplyAdd(x, b1, c41);
            x = Vector512.Create(a5[p]);
            c50 = Vector512.FusedMultiplyAdd(x, b0, c50); c51 = Vector512.FusedMultiplyAdd(x, b1, c51);
        }
        long ld = ldc;
        Store512(c, c00, load); Store512(c + 16, c01, load); c += ld;
        Store512(c, c10, load); Store512(c + 16, c11, load); c += ld;
        Store512(c, c20, load); Store512(c + 16, c21, load); c += ld;
        Store512(c, c30, load); Store512(c + 16, c31, load); c += ld;
        Store512(c, c40, load); Store512(c + 16, c41, load); c += ld;
        Store512(c, c50, load); Store512(c + 16, c51, load);
    }

    /// <summary><see cref="ConvRows6x32"/> with Vector256: a 6 × 16 tile.</summary>
    static void ConvRows6x16(float* a0, float* a1, float* a2, float* a3, float* a4, float* a5, int segments, int kc, long segmentStride,
        float* b, float* c, int ldc, bool load)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int seg = 0; seg < segments; seg++, a0 += segmentStride, a1 += segmentStride, a2 += segmentStride, a3 += segmentStride, a4 += segmentStride, a5 += segmentStride)
        for (int p = 0; p < kc; p++, b += 16)
        {
            Vector256<float> b0 = Vector256.Load(b);
            Vector256<float> b1 = Vector256.Load(b + 8);
            Vector256<float> x = Vector256.Create(a0[p]);
            c00 = Vector256.FusedMultiplyAdd(x, b0, c00); c01 = Vector256.FusedMultiplyAdd(x, b1, c01);
            x = Vector256.Create(a1[p]);
            c10 = Vector256.FusedMultiplyAdd(x, b0, c10); c11 = Vector256.FusedMultiplyAdd(x, b1, c11);
            x = Vector256.Create(a2[p]);
            c20 = Vector256.FusedMultiplyAdd(x, b0, c20); c21 = Vector256.FusedMultiplyAdd(x, b1, c21);
            x = Vector256.Create(a3[p]);
            c30 = Vector256.FusedMultiplyAdd(x, b0, c30); c31 = Vector256.FusedMultiplyAdd(x, b1, c31);
            x = Vector256.Create(a4[p]);
            c40 = Vector256.FusedMultiplyAdd(x, b0, c40); c41 = Vector256.FusedMultiplyAdd(x, b1, c41);
            x = Vector256.Create(a5[p]);
            c50 = Vector256.FusedMultiplyAdd(x, b0, c50); c51 = Vector256.FusedMultiplyAdd(x, b1, c51);
        }
        long ld = ldc;
        Store256(c, c00, load); Store256(c + 8, c01, load); c += ld;
        Store256(c, c10, load); Store256(c + 8, c11, load); c += ld;
        Store256(c, c20, load); Store256(c + 8, c21, load); c += ld;
        Store256(c, c30, load); Store256(c + 8, c31, load); c += ld;
        Store256(c, c40, load); Store256(c + 8, c41, load); c += ld;
        Store256(c, c50, load); Store256(c + 8, c51, load);
    }
}
