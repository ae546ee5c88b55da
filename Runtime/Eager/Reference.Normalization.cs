using System;
using System.Numerics;

namespace ModelGen;

public static partial class Reference
{
    // ---------------------------------------------------------------- activations

    /// <summary>y = x · sigmoid(x) (SiLU, swish), elementwise.</summary>
    public static void Silu<T>(ReadOnlySpan<T> x, Span<T> y) where T : IFloatingPointIeee754<T>
    {
        for (int i = 0; i < x.Length; i++) y[i] = x[i] / (T.One + T.Exp(-x[i]));
    }

    /// <summary>dx = dy · s · (1 + x · (1 − s)) with s = sigmoid(x): the VJP of <see cref="Silu{T}"/>.</summary>
    public static void SiluBackward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> dy, Span<T> dx) where T : IFloatingPointIeee754<T>
    {
        for (int i = 0; i < x.Length; i++)
        {
            T s = T.One / (T.One + T.Exp(-x[i]));
            dx[i] = dy[i] * s * (T.One + x[i] * (T.One - s));
        }
    }

    /// <summary>y = x for x &gt; 0, slope · x otherwise, elementwise.</summary>
    public static void LeakyRelu<T>(ReadOnlySpan<T> x, Span<T> y, T slope) where T : IFloatingPointIeee754<T>
    {
        for (int i = 0; i < x.Length; i++) y[i] = x[i] > T.Zero ? x[i] : slope * x[i];
    }

    /// <summary>dx = dy for x &gt; 0, slope · dy otherwise: the VJP of <see cref="LeakyRelu{T}"/>.</summary>
    public static void LeakyReluBackward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> dy, Span<T> dx, T slope) where T : IFloatingPointIeee754<T>
    {
        for (int i = 0; i < x.Length; i++) dx[i] = x[i] > T.Zero ? dy[i] : slope * dy[i];
    }

    // ---------------------------------------------------------------- batch normalization
    // x is viewed as (n, c, s): n samples, c channels (features), s positions per channel (H·W; 1 for BatchNorm1d).

    /// <summary>
    /// Batch normalization with batch statistics: per channel the mean and the biased variance over the n·s values,
    /// y = (x − mean) / sqrt(var + eps) · weight + bias. Writes mean, 1/sqrt(var + eps) and the biased variance.
    /// </summary>
    public static void BatchNormTrain<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> weight, ReadOnlySpan<T> bias, Span<T> y,
        Span<T> mean, Span<T> invStd, Span<T> variance, int n, int c, int s, T eps) where T : IFloatingPointIeee754<T>
    {
        T count = T.CreateChecked(n * s);
        for (int ch = 0; ch < c; ch++)
        {
            T sum = T.Zero;
            for (int b = 0; b < n; b++) for (int i = 0; i < s; i++) sum += x[(b * c + ch) * s + i];
            T m = sum / count;
            T sq = T.Zero;
            for (int b = 0; b < n; b++) for (int i = 0; i < s; i++) { T d = x[(b * c + ch) * s + i] - m; sq += d * d; }
            T v = sq / count, inv = T.One / T.Sqrt(v + eps);
            mean[ch] = m;
            invStd[ch] = inv;
            variance[ch] = v;
            for (int b = 0; b < n; b++)
                for (int i = 0; i < s; i++)
                {
                    int k = (b * c + ch) * s + i;
                    y[k] = (x[k] - m) * inv * weight[ch] + bias[ch];
                }
        }
    }

    /// <summary>
    /// The VJP of <see cref="BatchNormTrain{T}"/> (batch statistics depend on x): with x̂ = (x − mean)·invStd and M = n·s,
    /// dweight = Σ dy·x̂, dbias = Σ dy, dx = weight·invStd/M · (M·dy − Σdy − x̂·Σ dy·x̂). Empty outputs are skipped.
    /// </summary>
    public static void BatchNormTrainBackward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> weight, ReadOnlySpan<T> mean, ReadOnlySpan<T> invStd,
        ReadOnlySpan<T> dy, Span<T> dx, Span<T> dweight, Span<T> dbias, int n, int c, int s) where T : IFloatingPointIeee754<T>
    {
        T count = T.CreateChecked(n * s);
        for (int ch = 0; ch < c; ch++)
        {
            T sumDy = T.Zero, sumDyXhat = T.Zero;
            for (int b = 0; b < n; b++)
                for (int i = 0; i < s; i++)
                {
                    int k = (b * c + ch) * s + i;
                    sumDy += dy[k];
                    sumDyXhat += dy[k] * (x[k] - mean[ch]) * invStd[ch];
                }
            if (!dweight.IsEmpty) dweight[ch] = sumDyXhat;
            if (!dbias.IsEmpty) dbias[ch] = sumDy;
            if (dx.IsEmpty) continue;
            T scale = weight[ch] * invStd[ch] / count;
            for (int b = 0; b < n; b++)
                for (int i = 0; i < s; i++)
                {
                    int k = (b * c + ch) * s + i;
                    T xhat = (x[k] - mean[ch]) * invStd[ch];
                    dx[k] = scale * (count * dy[k] - sumDy - xhat * sumDyXhat);
                }
        }
    }

    /// <summary>
    /// The running-statistics update of PyTorch: running = (1 − momentum)·running + momentum·batch, where the batch
    /// variance is the unbiased one (biased · M/(M − 1), with M = <paramref name="count"/> values per channel; M = 1 keeps it biased).
    /// </summary>
    public static void BatchNormUpdateRunning<T>(ReadOnlySpan<T> mean, ReadOnlySpan<T> variance, Span<T> runningMean, Span<T> runningVar,
        int count, T momentum) where T : IFloatingPointIeee754<T>
    {
        T unbias = count > 1 ? T.CreateChecked(count) / T.CreateChecked(count - 1) : T.One;
        for (int ch = 0; ch < mean.Length; ch++)
        {
            runningMean[ch] = (T.One - momentum) * runningMean[ch] + momentum * mean[ch];
            runningVar[ch] = (T.One - momentum) * runningVar[ch] + momentum * variance[ch] * unbias;
        }
    }

    /// <summary>Batch normalization with fixed (running) statistics: y = (x − runningMean) / sqrt(runningVar + eps) · weight + bias.</summary>
    public static void BatchNormInfer<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> weight, ReadOnlySpan<T> bias, ReadOnlySpan<T> runningMean,
        ReadOnlySpan<T> runningVar, Span<T> y, int n, int c, int s, T eps) where T : IFloatingPointIeee754<T>
    {
        for (int b = 0; b < n; b++)
            for (int ch = 0; ch < c; ch++)
            {
                T inv = T.One / T.Sqrt(runningVar[ch] + eps);
                for (int i = 0; i < s; i++)
                {
                    int k = (b * c + ch) * s + i;
                    y[k] = (x[k] - runningMean[ch]) * inv * weight[ch] + bias[ch];
                }
            }
    }

    /// <summary>The VJP of <see cref="BatchNormInfer{T}"/> (statistics fixed): dx = dy·weight/sqrt(var + eps), dweight = Σ dy·x̂, dbias = Σ dy.</summary>
    public static void BatchNormInferBackward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> weight, ReadOnlySpan<T> runningMean, ReadOnlySpan<T> runningVar,
        ReadOnlySpan<T> dy, Span<T> dx, Span<T> dweight, Span<T> dbias, int n, int c, int s, T eps) where T : IFloatingPointIeee754<T>
    {
        if (!dweight.IsEmpty) dweight.Slice(0, c).Clear();
        if (!dbias.IsEmpty) dbias.Slice(0, c).Clear();
        for (int b = 0; b < n; b++)
            for (int ch = 0; ch < c; ch++)
            {
                T inv = T.One / T.Sqrt(runningVar[ch] + eps);
                for (int i = 0; i < s; i++)
                {
                    int k = (b * c + ch) * s + i;
                    if (!dx.IsEmpty) dx[k] = dy[k] * weight[ch] * inv;
                    if (!dweight.IsEmpty) dweight[ch] += dy[k] * (x[k] - runningMean[ch]) * inv;
                    if (!dbias.IsEmpty) dbias[ch] += dy[k];
                }
            }
    }

    // ---------------------------------------------------------------- dropout

    /// <summary>
    /// The inverted-dropout mask: element i is kept (value 1/(1 − p)) when <see cref="DropoutRandom.Uniform"/> of
    /// (seed, salt, step, i) is at least p, else dropped (0). p = 1 drops everything.
    /// </summary>
    public static void DropoutMask<T>(Span<T> mask, double p, ulong seed, ulong salt, long step) where T : IFloatingPointIeee754<T>
    {
        var key = DropoutRandom.Key(seed, salt, step);
        T scale = p < 1 ? T.CreateChecked(1.0 / (1.0 - p)) : T.Zero;
        float pf = (float)p;
        for (int i = 0; i < mask.Length; i++) mask[i] = DropoutRandom.Uniform(key, (uint)i) >= pf && p < 1 ? scale : T.Zero;
    }

    /// <summary>y = x · mask (forward and, with dy for x, backward of dropout).</summary>
    public static void ApplyMask<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> mask, Span<T> y) where T : IFloatingPointIeee754<T>
    {
        if (y.IsEmpty) return;
        for (int i = 0; i < x.Length; i++) y[i] = x[i] * mask[i];
    }
}

/// <summary>
/// The counter-based generator of dropout masks: element i of step <c>step</c> draws a hash of (seed, salt, step, i),
/// so a mask depends on nothing else (not the thread count, not the order of evaluation) and compiled and eager
/// code draw the same one. The salt tells apart the dropout layers of one model (a hash of the layer's path).
/// </summary>
public static class DropoutRandom
{
    /// <summary>Two 32-bit keys mixed from (seed, salt, step) with SplitMix64.</summary>
    public static (uint K0, uint K1) Key(ulong seed, ulong salt, long step)
    {
        ulong z = Mix(Mix(seed ^ 0x6A09E667F3BCC909UL) ^ salt);
        z = Mix(z ^ unchecked((ulong)step));
        return ((uint)z, (uint)(z >> 32));
    }

    /// <summary>A uniform float in [0, 1) with 24 random bits for element <paramref name="index"/>.</summary>
    public static float Uniform((uint K0, uint K1) key, uint index) => (Hash(Hash(index ^ key.K0) + key.K1) >> 8) * (1f / 16777216f);

    /// <summary>The 32-bit finalizer "lowbias32" (C. Wellons): a bijection with good avalanche.</summary>
    public static uint Hash(uint x)
    {
        x ^= x >> 16;
        x *= 0x7FEB352Du;
        x ^= x >> 15;
        x *= 0x846CA68Bu;
        x ^= x >> 16;
        return x;
    }

    /// <summary>The salt of a dropout layer at <paramref name="path"/>: FNV-1a (64-bit) of its UTF-16 code units (the generator computes the same).</summary>
    public static ulong Salt(string path)
    {
        ulong h = 14695981039346656037UL;
        foreach (char ch in path)
        {
            h ^= ch;
            h *= 1099511628211UL;
        }
        return h;
    }

    static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
