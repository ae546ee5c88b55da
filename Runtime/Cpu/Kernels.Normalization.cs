using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace ModelGen.Cpu;

// Batch normalization and dropout. A batch-normalized tensor is viewed as (n, c, s): n samples, c channels and
// s positions per channel (H·W for BatchNorm2d, 1 for BatchNorm1d). Per-channel statistics are accumulated in
// double (two passes: mean, then squared deviations); the elementwise passes are vectorized with a scalar tail.
// The saved statistics ("stats", 3·c floats) hold the batch mean, 1/sqrt(var + eps) and the biased variance.
public static partial class Kernels
{
    /// <summary>Batch normalization with batch statistics (training): writes y and the statistics. Needs n·s ≥ 2.</summary>
    /// <param name="x">The input, n·c·s values.</param>
    /// <param name="weight">The scale, c values.</param>
    /// <param name="bias">The shift, c values.</param>
    /// <param name="y">The output, n·c·s values.</param>
    /// <param name="stats">Receives mean (c), 1/sqrt(var + eps) (c) and the biased variance (c).</param>
    /// <param name="n">Samples.</param>
    /// <param name="c">Channels.</param>
    /// <param name="s">Positions per channel.</param>
    /// <param name="eps">Added to the variance.</param>
    public static void BatchNormForward(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> y,
        Span<float> stats, int n, int c, int s, float eps)
    {
        CheckBatchNorm(x.Length, y.Length, weight.Length, bias.Length, n, c, s);
        CheckLength(stats.Length, 3L * c, nameof(stats));
        CheckBatchStatistics((long)n * s, "BatchNormForward");
        Span<float> mean = stats.Slice(0, c), invStd = stats.Slice(c, c), variance = stats.Slice(2 * c, c);
        double count = (double)n * s;
        for (int ch = 0; ch < c; ch++)
        {
            double sum = 0;
            for (int b = 0; b < n; b++)
            {
                int at = (b * c + ch) * s;
                for (int i = 0; i < s; i++) sum += x[at + i];
            }
            double m = count > 0 ? sum / count : 0, sq = 0;
            for (int b = 0; b < n; b++)
            {
                int at = (b * c + ch) * s;
                for (int i = 0; i < s; i++) { double d = x[at + i] - m; sq += d * d; }
            }
            double v = count > 0 ? sq / count : 0;
            mean[ch] = (float)m;
            variance[ch] = (float)v;
            invStd[ch] = (float)(1.0 / Math.Sqrt(v + eps));
        }
        Normalize(x, mean, invStd, weight, bias, y, n, c, s);
    }

    /// <summary>Batch normalization with fixed statistics (inference): y = (x − runningMean)/sqrt(runningVar + eps)·weight + bias.</summary>
    /// <param name="x">The input, n·c·s values.</param>
    /// <param name="weight">The scale, c values.</param>
    /// <param name="bias">The shift, c values.</param>
    /// <param name="runningMean">The running mean, c values.</param>
    /// <param name="runningVar">The running variance, c values.</param>
    /// <param name="y">The output, n·c·s values.</param>
    /// <param name="n">Samples.</param>
    /// <param name="c">Channels.</param>
    /// <param name="s">Positions per channel.</param>
    /// <param name="eps">Added to the variance.</param>
    public static void BatchNormInference(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias,
        ReadOnlySpan<float> runningMean, ReadOnlySpan<float> runningVar, Span<float> y, int n, int c, int s, float eps)
    {
        CheckBatchNorm(x.Length, y.Length, weight.Length, bias.Length, n, c, s);
        CheckLength(runningMean.Length, c, nameof(runningMean));
        CheckLength(runningVar.Length, c, nameof(runningVar));
        Span<float> invStd = c <= 1024 ? stackalloc float[c] : new float[c];
        for (int ch = 0; ch < c; ch++) invStd[ch] = 1f / MathF.Sqrt(runningVar[ch] + eps);
        Normalize(x, runningMean, invStd, weight, bias, y, n, c, s);
    }

    /// <summary>
    /// The PyTorch running-statistics update from saved batch statistics: running = (1 − momentum)·running + momentum·batch,
    /// with the unbiased batch variance (biased · count/(count − 1)).
    /// </summary>
    /// <param name="stats">The statistics written by <see cref="BatchNormForward"/>.</param>
    /// <param name="runningMean">The running mean, c values, updated in place.</param>
    /// <param name="runningVar">The running variance, c values, updated in place.</param>
    /// <param name="c">Channels.</param>
    /// <param name="count">Values per channel in the batch (n·s), at least 2.</param>
    /// <param name="momentum">The weight of the batch statistics.</param>
    public static void BatchNormUpdateRunning(ReadOnlySpan<float> stats, Span<float> runningMean, Span<float> runningVar, int c, int count, float momentum)
    {
        CheckLength(stats.Length, 3L * c, nameof(stats));
        CheckLength(runningMean.Length, c, nameof(runningMean));
        CheckLength(runningVar.Length, c, nameof(runningVar));
        CheckBatchStatistics(count, "BatchNormUpdateRunning");
        double unbias = (double)count / (count - 1);
        for (int ch = 0; ch < c; ch++)
        {
            runningMean[ch] = (1f - momentum) * runningMean[ch] + momentum * stats[ch];
            runningVar[ch] = (float)((1.0 - momentum) * runningVar[ch] + momentum * stats[2 * c + ch] * unbias);
        }
    }

    /// <summary>dweight = Σ dy·x̂ and dbias = Σ dy per channel (either may be empty to skip it).</summary>
    /// <param name="x">The forward input, n·c·s values.</param>
    /// <param name="stats">The statistics written by <see cref="BatchNormForward"/>.</param>
    /// <param name="dy">The output gradient, n·c·s values.</param>
    /// <param name="dweight">Receives the weight gradient (c values), or empty.</param>
    /// <param name="dbias">Receives the bias gradient (c values), or empty.</param>
    /// <param name="n">Samples.</param>
    /// <param name="c">Channels.</param>
    /// <param name="s">Positions per channel.</param>
    public static void BatchNormParameterGradients(ReadOnlySpan<float> x, ReadOnlySpan<float> stats, ReadOnlySpan<float> dy,
        Span<float> dweight, Span<float> dbias, int n, int c, int s)
    {
        CheckBatchNorm(x.Length, dy.Length, c, c, n, c, s);
        CheckLength(stats.Length, 2L * c, nameof(stats));
        if (!dweight.IsEmpty) CheckLength(dweight.Length, c, nameof(dweight));
        if (!dbias.IsEmpty) CheckLength(dbias.Length, c, nameof(dbias));
        for (int ch = 0; ch < c; ch++)
        {
            double m = stats[ch], sumDy = 0, sumDyX = 0;
            for (int b = 0; b < n; b++)
            {
                int at = (b * c + ch) * s;
                for (int i = 0; i < s; i++)
                {
                    double g = dy[at + i];
                    sumDy += g;
                    sumDyX += g * (x[at + i] - m);
                }
            }
            if (!dweight.IsEmpty) dweight[ch] = (float)(sumDyX * stats[c + ch]);
            if (!dbias.IsEmpty) dbias[ch] = (float)sumDy;
        }
    }

    /// <summary>
    /// dx = weight·invStd/M · (M·dy − Σdy − x̂·Σdy·x̂) with M = n·s, from the parameter gradients of
    /// <see cref="BatchNormParameterGradients"/> (which are exactly those two sums).
    /// </summary>
    /// <param name="x">The forward input, n·c·s values.</param>
    /// <param name="weight">The scale, c values.</param>
    /// <param name="stats">The statistics written by <see cref="BatchNormForward"/>.</param>
    /// <param name="dy">The output gradient, n·c·s values.</param>
    /// <param name="dweight">Σ dy·x̂ per channel.</param>
    /// <param name="dbias">Σ dy per channel.</param>
    /// <param name="dx">Receives the input gradient, n·c·s values.</param>
    /// <param name="n">Samples.</param>
    /// <param name="c">Channels.</param>
    /// <param name="s">Positions per channel.</param>
    public static void BatchNormInputGradient(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> stats, ReadOnlySpan<float> dy,
        ReadOnlySpan<float> dweight, ReadOnlySpan<float> dbias, Span<float> dx, int n, int c, int s)
    {
        CheckBatchNorm(x.Length, dx.Length, weight.Length, c, n, c, s);
        CheckLength(dy.Length, (long)n * c * s, nameof(dy));
        CheckLength(stats.Length, 2L * c, nameof(stats));
        CheckLength(dweight.Length, c, nameof(dweight));
        CheckLength(dbias.Length, c, nameof(dbias));
        float count = (float)n * s;
        for (int b = 0; b < n; b++)
        {
            for (int ch = 0; ch < c; ch++)
            {
                float m = stats[ch], inv = stats[c + ch];
                float k = weight[ch] * inv / count;
                // dx = k·(M·dy − Σdy − (x − m)·inv·Σdy·x̂) = a·dy + b·x + d
                float a = k * count, bx = -k * inv * dweight[ch], d = -k * dbias[ch] - bx * m;
                int at = (b * c + ch) * s;
                AffinePair(dy.Slice(at, s), a, x.Slice(at, s), bx, d, dx.Slice(at, s));
            }
        }
    }

    /// <summary>
    /// Inverted dropout: mask[i] = 1/(1 − p) when <see cref="DropoutRandom.Uniform"/>(seed, salt, step, i) ≥ p, else 0;
    /// y = x·mask. p = 1 drops everything. The mask depends only on (seed, salt, step, i).
    /// </summary>
    /// <param name="x">The input.</param>
    /// <param name="mask">Receives the mask (kept for the backward pass).</param>
    /// <param name="y">The output (may be x).</param>
    /// <param name="p">The drop probability in [0, 1].</param>
    /// <param name="seed">The program's seed.</param>
    /// <param name="salt">The layer's salt (<see cref="DropoutRandom.Salt"/> of its path).</param>
    /// <param name="step">The training step.</param>
    public static void DropoutForward(ReadOnlySpan<float> x, Span<float> mask, Span<float> y, float p, ulong seed, ulong salt, long step)
    {
        CheckLength(mask.Length, x.Length, nameof(mask));
        CheckLength(y.Length, x.Length, nameof(y));
        if (!(p >= 0f && p <= 1f)) throw new ArgumentOutOfRangeException(nameof(p), p, "The dropout probability must be in [0, 1].");
        var key = DropoutRandom.Key(seed, salt, step);
        int n = x.Length, i = 0;
        float scale = p < 1f ? 1f / (1f - p) : 0f;
        ref float px = ref MemoryMarshal.GetReference(x);
        ref float pm = ref MemoryMarshal.GetReference(mask);
        ref float py = ref MemoryMarshal.GetReference(y);
        if (p < 1f && CpuFeatures.Active >= SimdLevel.Avx2)
        {
            // The same arithmetic as DropoutRandom.Uniform, eight lanes at a time.
            var k0 = Vector256.Create(key.K0);
            var k1 = Vector256.Create(key.K1);
            var lane = Vector256.Create(0u, 1u, 2u, 3u, 4u, 5u, 6u, 7u);
            var vp = Vector256.Create(p);
            var vs = Vector256.Create(scale);
            var unit = Vector256.Create(1f / 16777216f);
            for (; i <= n - 8; i += 8)
            {
                var h = Hash256(Hash256(Vector256.Create((uint)i) + lane ^ k0) + k1);
                var u = Vector256.ConvertToSingle(Vector256.ShiftRightLogical(h, 8).AsInt32()) * unit;
                var m = Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(u, vp), vs, Vector256<float>.Zero);
                m.StoreUnsafe(ref pm, (nuint)i);
                (Vector256.LoadUnsafe(ref px, (nuint)i) * m).StoreUnsafe(ref py, (nuint)i);
            }
        }
        for (; i < n; i++)
        {
            float m = p < 1f && DropoutRandom.Uniform(key, (uint)i) >= p ? scale : 0f;
            Unsafe.Add(ref pm, i) = m;
            Unsafe.Add(ref py, i) = Unsafe.Add(ref px, i) * m;
        }
    }

    /// <summary>dx = dy·mask (the backward of <see cref="DropoutForward"/>).</summary>
    /// <param name="dy">The output gradient.</param>
    /// <param name="mask">The mask written by the forward pass.</param>
    /// <param name="dx">Receives the input gradient (may be dy).</param>
    public static void DropoutBackward(ReadOnlySpan<float> dy, ReadOnlySpan<float> mask, Span<float> dx)
    {
        CheckLength(mask.Length, dy.Length, nameof(mask));
        CheckLength(dx.Length, dy.Length, nameof(dx));
        // AffinePair runs over its output's length: dx may be longer than dy and mask, so only dy's length of it.
        AffinePair(dy, 0f, dy, 0f, 0f, dx.Slice(0, dy.Length), mask);
    }

    static Vector256<uint> Hash256(Vector256<uint> x)
    {
        x ^= Vector256.ShiftRightLogical(x, 16);
        x *= Vector256.Create(0x7FEB352Du);
        x ^= Vector256.ShiftRightLogical(x, 15);
        x *= Vector256.Create(0x846CA68Bu);
        x ^= Vector256.ShiftRightLogical(x, 16);
        return x;
    }

    /// <summary>y = (x − mean)·invStd·weight + bias per channel of the (n, c, s) view.</summary>
    static void Normalize(ReadOnlySpan<float> x, ReadOnlySpan<float> mean, ReadOnlySpan<float> invStd, ReadOnlySpan<float> weight,
        ReadOnlySpan<float> bias, Span<float> y, int n, int c, int s)
    {
        if (s == 1)
        {
            // Rows of c features: vectorize across the features.
            ref float pm = ref MemoryMarshal.GetReference(mean);
            ref float pi = ref MemoryMarshal.GetReference(invStd);
            ref float pw = ref MemoryMarshal.GetReference(weight);
            ref float pb = ref MemoryMarshal.GetReference(bias);
            SimdLevel level = CpuFeatures.Active;
            for (int b = 0; b < n; b++)
            {
                ref float px = ref MemoryMarshal.GetReference(x.Slice(b * c, c));
                ref float py = ref MemoryMarshal.GetReference(y.Slice(b * c, c));
                int i = 0;
                if (level == SimdLevel.Avx512)
                {
                    for (; i <= c - 16; i += 16)
                        ((Vector512.LoadUnsafe(ref px, (nuint)i) - Vector512.LoadUnsafe(ref pm, (nuint)i)) * Vector512.LoadUnsafe(ref pi, (nuint)i)
                            * Vector512.LoadUnsafe(ref pw, (nuint)i) + Vector512.LoadUnsafe(ref pb, (nuint)i)).StoreUnsafe(ref py, (nuint)i);
                }
                else if (level == SimdLevel.Avx2)
                {
                    for (; i <= c - 8; i += 8)
                        ((Vector256.LoadUnsafe(ref px, (nuint)i) - Vector256.LoadUnsafe(ref pm, (nuint)i)) * Vector256.LoadUnsafe(ref pi, (nuint)i)
                            * Vector256.LoadUnsafe(ref pw, (nuint)i) + Vector256.LoadUnsafe(ref pb, (nuint)i)).StoreUnsafe(ref py, (nuint)i);
                }
                for (; i < c; i++)
                    Unsafe.Add(ref py, i) = (Unsafe.Add(ref px, i) - Unsafe.Add(ref pm, i)) * Unsafe.Add(ref pi, i) * Unsafe.Add(ref pw, i) + Unsafe.Add(ref pb, i);
            }
            return;
        }
        for (int b = 0; b < n; b++)
        {
            for (int ch = 0; ch < c; ch++)
            {
                float a = invStd[ch] * weight[ch], d = bias[ch] - mean[ch] * a;
                int at = (b * c + ch) * s;
                AffinePair(x.Slice(at, s), a, x.Slice(at, s), 0f, d, y.Slice(at, s));
            }
        }
    }

    /// <summary>y = a·u + b·v + d, times <paramref name="multiplier"/> elementwise when given (vectorized, scalar tail).</summary>
    static void AffinePair(ReadOnlySpan<float> u, float a, ReadOnlySpan<float> v, float b, float d, Span<float> y, ReadOnlySpan<float> multiplier = default)
    {
        int n = y.Length, i = 0;
        bool multiply = !multiplier.IsEmpty;
        ref float pu = ref MemoryMarshal.GetReference(u);
        ref float pv = ref MemoryMarshal.GetReference(v);
        ref float py = ref MemoryMarshal.GetReference(y);
        ref float pm = ref MemoryMarshal.GetReference(multiplier);
        SimdLevel level = CpuFeatures.Active;
        if (level == SimdLevel.Avx512)
        {
            Vector512<float> va = Vector512.Create(a), vb = Vector512.Create(b), vd = Vector512.Create(d);
            for (; i <= n - 16; i += 16)
            {
                var r = multiply
                    ? Vector512.LoadUnsafe(ref pu, (nuint)i) * Vector512.LoadUnsafe(ref pm, (nuint)i)
                    : va * Vector512.LoadUnsafe(ref pu, (nuint)i) + vb * Vector512.LoadUnsafe(ref pv, (nuint)i) + vd;
                r.StoreUnsafe(ref py, (nuint)i);
            }
        }
        else if (level == SimdLevel.Avx2)
        {
            Vector256<float> va = Vector256.Create(a), vb = Vector256.Create(b), vd = Vector256.Create(d);
            for (; i <= n - 8; i += 8)
            {
                var r = multiply
                    ? Vector256.LoadUnsafe(ref pu, (nuint)i) * Vector256.LoadUnsafe(ref pm, (nuint)i)
                    : va * Vector256.LoadUnsafe(ref pu, (nuint)i) + vb * Vector256.LoadUnsafe(ref pv, (nuint)i) + vd;
                r.StoreUnsafe(ref py, (nuint)i);
            }
        }
        for (; i < n; i++)
            Unsafe.Add(ref py, i) = multiply
                ? Unsafe.Add(ref pu, i) * Unsafe.Add(ref pm, i)
                : a * Unsafe.Add(ref pu, i) + b * Unsafe.Add(ref pv, i) + d;
    }

    /// <summary>
    /// Throws unless a training batch has more than one value per channel (<paramref name="count"/> = samples·positions),
    /// PyTorch's rule: with one value the batch variance is 0, every output is the bias, the weight gets no gradient and
    /// the running variance shrinks toward 0. The kernels of every backend (and the eager layer) call it.
    /// </summary>
    internal static void CheckBatchStatistics(long count, string who)
    {
        if (count < 2)
            throw new ArgumentException(
                $"{who}: batch normalization in training needs more than one value per channel, but the batch has {count} " +
                "(samples × positions per channel). A single value has variance 0: every output would be the bias, the weight " +
                "would get no gradient and the running variance would shrink. Train on batches of at least 2 samples " +
                "(1×1 positions), or run the layer in evaluation mode.");
    }

    static void CheckBatchNorm(int xLength, int yLength, int weightLength, int biasLength, int n, int c, int s)
    {
        if (n < 0 || c <= 0 || s <= 0)
            throw new ArgumentException($"Need n >= 0, c > 0 and s > 0 (n={n}, c={c}, s={s}).");
        long total = Elements(n, c, s);
        CheckLength(xLength, total, "x");
        CheckLength(yLength, total, "y");
        CheckLength(weightLength, c, "weight");
        CheckLength(biasLength, c, "bias");
    }
}
