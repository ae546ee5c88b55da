using System;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using ModelGen.Cpu;

namespace ModelGen.Gpu;

// Batch normalization, dropout and layer normalization on the GPU: the twins of Runtime/Cpu/Kernels.Normalization.cs and
// of the layer-normalization kernels of Runtime/Cpu/Kernels.Sequence.cs.
//
// Reductions are deterministic (no atomics): a group reduces a tile of `width` channels (columns) over `lanes` threads
// each (width·lanes = the group size) and a tree in shared memory sums the lanes. Batch statistics use one group per
// channel (width 1) when a channel's values are spread over positions (s > 1), and tiles of up to 32 adjacent channels
// (coalesced rows) when s = 1. Sums are accumulated in double where the CPU does (batch norm, layer-norm statistics).
// The saved statistics have the CPU's layouts: batch norm (mean[c], invStd[c], biased variance[c]); layer norm (mean,
// rstd) per row, interleaved.
public static partial class GpuKernels
{
    // ---------------------------------------------------------------- batch normalization

    /// <summary>Batch normalization with batch statistics (training): writes y and the statistics (the twin of <see cref="Kernels.BatchNormForward"/>).</summary>
    /// <param name="device">The device whose stream runs the kernels.</param>
    /// <param name="x">The input, n·c·s values.</param>
    /// <param name="weight">The scale, c values.</param>
    /// <param name="bias">The shift, c values.</param>
    /// <param name="y">The output, n·c·s values.</param>
    /// <param name="stats">Receives mean (c), 1/sqrt(var + eps) (c) and the biased variance (c).</param>
    /// <param name="n">Samples.</param>
    /// <param name="c">Channels.</param>
    /// <param name="s">Positions per channel.</param>
    /// <param name="eps">Added to the variance.</param>
    public static void BatchNormForward(GpuDevice device, ArrayView<float> x, ArrayView<float> weight, ArrayView<float> bias, ArrayView<float> y,
        ArrayView<float> stats, int n, int c, int s, float eps)
    {
        CheckBatchNormViews(x.Length, y.Length, weight.Length, bias.Length, n, c, s);
        CheckViewLength(stats.Length, 3L * c, nameof(stats));
        Kernels.CheckBatchStatistics((long)n * s, nameof(BatchNormForward));
        var k = device.Kernels(a => new NormalizationKernels(a));
        var (config, width) = ChannelTiles(device, c, s);
        k.BatchStats(device.Stream, config, new BatchStatsArgs(x, stats, n, c, s, width, eps));
        long total = (long)n * c * s;
        if (total > 0)
            k.Normalize(device.Stream, (int)total, new BatchNormalizeArgs(x, stats.SubView(0, c), stats.SubView(c, c), weight, bias, y, c, s, 0, eps));
    }

    /// <summary>Batch normalization with fixed statistics (inference): y = (x − runningMean)/sqrt(runningVar + eps)·weight + bias (the twin of <see cref="Kernels.BatchNormInference"/>).</summary>
    /// <param name="device">The device whose stream runs the kernel.</param>
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
    public static void BatchNormInference(GpuDevice device, ArrayView<float> x, ArrayView<float> weight, ArrayView<float> bias,
        ArrayView<float> runningMean, ArrayView<float> runningVar, ArrayView<float> y, int n, int c, int s, float eps)
    {
        CheckBatchNormViews(x.Length, y.Length, weight.Length, bias.Length, n, c, s);
        CheckViewLength(runningMean.Length, c, nameof(runningMean));
        CheckViewLength(runningVar.Length, c, nameof(runningVar));
        long total = (long)n * c * s;
        if (total == 0) return;
        var k = device.Kernels(a => new NormalizationKernels(a));
        k.Normalize(device.Stream, (int)total, new BatchNormalizeArgs(x, runningMean, runningVar, weight, bias, y, c, s, 1, eps));
    }

    /// <summary>
    /// The PyTorch running-statistics update from saved batch statistics: running = (1 − momentum)·running + momentum·batch,
    /// with the unbiased batch variance (the twin of <see cref="Kernels.BatchNormUpdateRunning"/>).
    /// </summary>
    /// <param name="device">The device whose stream runs the kernel.</param>
    /// <param name="stats">The statistics written by <see cref="BatchNormForward"/>.</param>
    /// <param name="runningMean">The running mean, c values, updated in place.</param>
    /// <param name="runningVar">The running variance, c values, updated in place.</param>
    /// <param name="c">Channels.</param>
    /// <param name="count">Values per channel in the batch (n·s), at least 2.</param>
    /// <param name="momentum">The weight of the batch statistics.</param>
    public static void BatchNormUpdateRunning(GpuDevice device, ArrayView<float> stats, ArrayView<float> runningMean, ArrayView<float> runningVar,
        int c, int count, float momentum)
    {
        CheckViewLength(stats.Length, 3L * c, nameof(stats));
        CheckViewLength(runningMean.Length, c, nameof(runningMean));
        CheckViewLength(runningVar.Length, c, nameof(runningVar));
        Kernels.CheckBatchStatistics(count, nameof(BatchNormUpdateRunning));
        if (c <= 0) return;
        double unbias = (double)count / (count - 1);
        var k = device.Kernels(a => new NormalizationKernels(a));
        k.UpdateRunning(device.Stream, c, stats, runningMean, runningVar, c, momentum, unbias);
    }

    /// <summary>dweight = Σ dy·x̂ and dbias = Σ dy per channel, either may be empty to skip it (the twin of <see cref="Kernels.BatchNormParameterGradients"/>).</summary>
    /// <param name="device">The device whose stream runs the kernel.</param>
    /// <param name="x">The forward input, n·c·s values.</param>
    /// <param name="stats">The statistics written by <see cref="BatchNormForward"/>.</param>
    /// <param name="dy">The output gradient, n·c·s values.</param>
    /// <param name="dweight">Receives the weight gradient (c values), or empty.</param>
    /// <param name="dbias">Receives the bias gradient (c values), or empty.</param>
    /// <param name="n">Samples.</param>
    /// <param name="c">Channels.</param>
    /// <param name="s">Positions per channel.</param>
    public static void BatchNormParameterGradients(GpuDevice device, ArrayView<float> x, ArrayView<float> stats, ArrayView<float> dy,
        ArrayView<float> dweight, ArrayView<float> dbias, int n, int c, int s)
    {
        CheckBatchNormViews(x.Length, dy.Length, c, c, n, c, s);
        CheckViewLength(stats.Length, 2L * c, nameof(stats));
        if (dweight.Length > 0) CheckViewLength(dweight.Length, c, nameof(dweight));
        if (dbias.Length > 0) CheckViewLength(dbias.Length, c, nameof(dbias));
        if (dweight.Length == 0 && dbias.Length == 0) return;
        var k = device.Kernels(a => new NormalizationKernels(a));
        var (config, width) = ChannelTiles(device, c, s);
        k.BatchGradients(device.Stream, config, new BatchGradientArgs(x, stats, dy, dweight, dbias, n, c, s, width));
    }

    /// <summary>
    /// dx = weight·invStd/M · (M·dy − Σdy − x̂·Σdy·x̂) with M = n·s, from the parameter gradients of
    /// <see cref="BatchNormParameterGradients"/> (the twin of <see cref="Kernels.BatchNormInputGradient"/>).
    /// </summary>
    /// <param name="device">The device whose stream runs the kernel.</param>
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
    public static void BatchNormInputGradient(GpuDevice device, ArrayView<float> x, ArrayView<float> weight, ArrayView<float> stats, ArrayView<float> dy,
        ArrayView<float> dweight, ArrayView<float> dbias, ArrayView<float> dx, int n, int c, int s)
    {
        CheckBatchNormViews(x.Length, dx.Length, weight.Length, c, n, c, s);
        CheckViewLength(dy.Length, ModelGen.Cpu.Kernels.Elements(n, c, s), nameof(dy));
        CheckViewLength(stats.Length, 2L * c, nameof(stats));
        CheckViewLength(dweight.Length, c, nameof(dweight));
        CheckViewLength(dbias.Length, c, nameof(dbias));
        long total = (long)n * c * s;
        if (total == 0) return;
        var k = device.Kernels(a => new NormalizationKernels(a));
        k.InputGradient(device.Stream, (int)total, new BatchInputGradientArgs(x, weight, stats, dy, dweight, dbias, dx, n, c, s));
    }

    // ---------------------------------------------------------------- dropout

    /// <summary>
    /// Inverted dropout (the twin of <see cref="Kernels.DropoutForward"/>): mask[i] = 1/(1 − p) when
    /// <see cref="DropoutRandom.Uniform"/>(seed, salt, step, i) ≥ p, else 0; y = x·mask. The mask is the CPU's, bit for bit:
    /// the key is mixed from (seed, salt, step) by <see cref="DropoutRandom.Key"/> on the host, and each thread hashes its
    /// element index as <see cref="DropoutRandom.Uniform"/> does.
    /// </summary>
    /// <param name="device">The device whose stream runs the kernel.</param>
    /// <param name="x">The input.</param>
    /// <param name="mask">Receives the mask (kept for the backward pass).</param>
    /// <param name="y">The output (may be x).</param>
    /// <param name="p">The drop probability in [0, 1].</param>
    /// <param name="seed">The program's seed.</param>
    /// <param name="salt">The layer's salt (<see cref="DropoutRandom.Salt"/> of its path).</param>
    /// <param name="step">The training step.</param>
    public static void DropoutForward(GpuDevice device, ArrayView<float> x, ArrayView<float> mask, ArrayView<float> y, float p, ulong seed, ulong salt, long step)
    {
        CheckViewLength(mask.Length, x.Length, nameof(mask));
        CheckViewLength(y.Length, x.Length, nameof(y));
        if (!(p >= 0f && p <= 1f)) throw new ArgumentOutOfRangeException(nameof(p), p, "The dropout probability must be in [0, 1].");
        if (x.Length == 0) return;
        var (k0, k1) = DropoutRandom.Key(seed, salt, step);
        float scale = p < 1f ? 1f / (1f - p) : 0f;
        var k = device.Kernels(a => new NormalizationKernels(a));
        k.Dropout(device.Stream, CheckedCount(x.Length, nameof(x)), x, mask, y, p, scale, k0, k1);
    }

    /// <summary>dx = dy·mask (the twin of <see cref="Kernels.DropoutBackward"/>).</summary>
    /// <param name="device">The device whose stream runs the kernel.</param>
    /// <param name="dy">The output gradient.</param>
    /// <param name="mask">The mask written by the forward pass.</param>
    /// <param name="dx">Receives the input gradient (may be dy).</param>
    public static void DropoutBackward(GpuDevice device, ArrayView<float> dy, ArrayView<float> mask, ArrayView<float> dx)
    {
        CheckViewLength(mask.Length, dy.Length, nameof(mask));
        CheckViewLength(dx.Length, dy.Length, nameof(dx));
        if (dy.Length == 0) return;
        var k = device.Kernels(a => new NormalizationKernels(a));
        k.DropoutBackward(device.Stream, CheckedCount(dy.Length, nameof(dy)), dy, mask, dx);
    }

    // ---------------------------------------------------------------- layer normalization

    /// <summary>
    /// Layer normalization of each row: y = (x − mean)·rstd·weight + bias; stats receives (mean, rstd) per row, interleaved
    /// (the twin of <see cref="Kernels.LayerNorm"/>). One group per row.
    /// </summary>
    /// <param name="device">The device whose stream runs the kernel.</param>
    /// <param name="x">The input, rows × features.</param>
    /// <param name="weight">The scale, features values.</param>
    /// <param name="bias">The shift, features values.</param>
    /// <param name="y">The output, rows × features.</param>
    /// <param name="stats">Receives mean and 1/sqrt(var + eps) of each row (2·rows values).</param>
    /// <param name="rows">The number of rows.</param>
    /// <param name="features">The length of a row.</param>
    /// <param name="epsilon">Added to the (biased) variance.</param>
    public static void LayerNorm(GpuDevice device, ArrayView<float> x, ArrayView<float> weight, ArrayView<float> bias, ArrayView<float> y,
        ArrayView<float> stats, int rows, int features, float epsilon)
    {
        CheckRowsFeatures(rows, features);
        CheckViewLength(x.Length, (long)rows * features, nameof(x));
        CheckViewLength(weight.Length, features, nameof(weight));
        CheckViewLength(bias.Length, features, nameof(bias));
        CheckViewLength(y.Length, (long)rows * features, nameof(y));
        CheckViewLength(stats.Length, 2L * rows, nameof(stats));
        if (rows == 0) return;
        var k = device.Kernels(a => new NormalizationKernels(a));
        k.LayerNorm(device.Stream, new KernelConfig(rows, RowGroupSize(device, features)), new LayerNormArgs(x, weight, bias, y, stats, features, epsilon));
    }

    /// <summary>
    /// The input gradient of <see cref="LayerNorm"/>: dx = rstd·(g − mean(g) − x̂·mean(g·x̂)) with g = dy·weight, overwritten
    /// (the twin of <see cref="Kernels.LayerNormBackward"/>). One group per row.
    /// </summary>
    /// <param name="device">The device whose stream runs the kernel.</param>
    /// <param name="x">The forward input.</param>
    /// <param name="weight">The scale.</param>
    /// <param name="stats">The forward's (mean, rstd) per row.</param>
    /// <param name="dy">The output gradient.</param>
    /// <param name="dx">The input gradient (overwritten).</param>
    /// <param name="rows">The number of rows.</param>
    /// <param name="features">The length of a row.</param>
    public static void LayerNormBackward(GpuDevice device, ArrayView<float> x, ArrayView<float> weight, ArrayView<float> stats, ArrayView<float> dy,
        ArrayView<float> dx, int rows, int features)
    {
        CheckRowsFeatures(rows, features);
        CheckViewLength(x.Length, (long)rows * features, nameof(x));
        CheckViewLength(weight.Length, features, nameof(weight));
        CheckViewLength(stats.Length, 2L * rows, nameof(stats));
        CheckViewLength(dy.Length, (long)rows * features, nameof(dy));
        CheckViewLength(dx.Length, (long)rows * features, nameof(dx));
        if (rows == 0) return;
        var k = device.Kernels(a => new NormalizationKernels(a));
        k.LayerNormBackward(device.Stream, new KernelConfig(rows, RowGroupSize(device, features)), new LayerNormArgs(x, weight, dy, dx, stats, features, 0f));
    }

    /// <summary>
    /// The weight gradient of <see cref="LayerNorm"/>: dWeight[j] = Σ_rows dy·x̂, overwritten (the twin of
    /// <see cref="Kernels.LayerNormWeightBackward"/>): a deterministic column reduction, a group per tile of columns.
    /// </summary>
    /// <param name="device">The device whose stream runs the kernel.</param>
    /// <param name="x">The forward input.</param>
    /// <param name="stats">The forward's (mean, rstd) per row.</param>
    /// <param name="dy">The output gradient.</param>
    /// <param name="dWeight">The weight gradient, features values.</param>
    /// <param name="rows">The number of rows.</param>
    /// <param name="features">The length of a row.</param>
    public static void LayerNormWeightBackward(GpuDevice device, ArrayView<float> x, ArrayView<float> stats, ArrayView<float> dy, ArrayView<float> dWeight,
        int rows, int features)
    {
        CheckRowsFeatures(rows, features);
        CheckViewLength(x.Length, (long)rows * features, nameof(x));
        CheckViewLength(stats.Length, 2L * rows, nameof(stats));
        CheckViewLength(dy.Length, (long)rows * features, nameof(dy));
        CheckViewLength(dWeight.Length, features, nameof(dWeight));
        if (features == 0) return;
        var k = device.Kernels(a => new NormalizationKernels(a));
        // The CPU clears all of dWeight; the kernel writes its first `features` values, so clear the rest when longer.
        if (dWeight.Length > features) dWeight.SubView(features).MemSetToZero(device.Stream);
        var (config, width) = ChannelTiles(device, features, 1);
        k.LayerNormWeight(device.Stream, config, new LayerNormArgs(x, default, dy, dWeight, stats, features, 0f, rows, width));
    }

    // ---------------------------------------------------------------- host helpers

    /// <summary>
    /// The launch of a channel (column) reduction: one group per channel when s &gt; 1, else tiles of up to 32 adjacent
    /// channels (the width), the group's other threads being lanes over the rows.
    /// </summary>
    static (KernelConfig Config, int Width) ChannelTiles(GpuDevice device, int channels, int s)
    {
        int threads = GroupThreads(device, GroupSize);
        int width = s == 1 ? Math.Min(Math.Min(32, NextPowerOfTwo(channels)), threads) : 1;
        return (new KernelConfig(Math.Max(1, (channels + width - 1) / width), threads), width);
    }

    /// <summary>The group size of a row kernel: the row's length rounded up to a power of two, in [32, <see cref="GroupSize"/>], within the device's limit.</summary>
    static int RowGroupSize(GpuDevice device, int length) => GroupThreads(device, Math.Clamp(NextPowerOfTwo(length), 32, GroupSize));

    /// <summary>
    /// <paramref name="wanted"/> threads (a power of two) or the largest power of two the device allows per group if fewer
    /// (ILGPU's CPU accelerator allows 16); the shared-memory reductions need a power of two.
    /// </summary>
    static int GroupThreads(GpuDevice device, int wanted)
    {
        int limit = device.Accelerator.MaxNumThreadsPerGroup, threads = wanted;
        while (threads > limit && threads > 1) threads >>= 1;
        return threads;
    }

    static int NextPowerOfTwo(int value)
    {
        int p = 1;
        while (p < value && p < (1 << 30)) p <<= 1;
        return p;
    }

    static int CheckedCount(long length, string name)
    {
        if (length > int.MaxValue) throw new ArgumentException($"View {name} has {length} elements; at most {int.MaxValue} are supported.", name);
        return (int)length;
    }

    static void CheckViewLength(long length, long needed, string name)
    {
        if (length < needed)
            throw new ArgumentException($"View {name} has {length} elements but {needed} are needed.", name);
    }

    static void CheckBatchNormViews(long xLength, long yLength, long weightLength, long biasLength, int n, int c, int s)
    {
        if (n < 0 || c <= 0 || s <= 0)
            throw new ArgumentException($"Need n >= 0, c > 0 and s > 0 (n={n}, c={c}, s={s}).");
        long total = (long)n * c * s;
        if (total > int.MaxValue) throw new ArgumentException($"n·c·s = {total} is more than {int.MaxValue} values.");
        CheckViewLength(xLength, total, "x");
        CheckViewLength(yLength, total, "y");
        CheckViewLength(weightLength, c, "weight");
        CheckViewLength(biasLength, c, "bias");
    }

    static void CheckRowsFeatures(int rows, int features)
    {
        if (rows < 0 || features <= 0)
            throw new ArgumentException($"Need rows >= 0 and features > 0 (rows={rows}, features={features}).");
        if ((long)rows * features > int.MaxValue) throw new ArgumentException($"rows·features = {(long)rows * features} is more than {int.MaxValue} values.");
    }
}

/// <summary>The arguments of the batch-statistics kernel.</summary>
internal readonly struct BatchStatsArgs
{
    public readonly ArrayView<float> X, Stats;
    public readonly int N, C, S, Width;
    public readonly float Eps;

    public BatchStatsArgs(ArrayView<float> x, ArrayView<float> stats, int n, int c, int s, int width, float eps)
    {
        X = x; Stats = stats; N = n; C = c; S = s; Width = width; Eps = eps;
    }
}

/// <summary>The arguments of the batch-norm parameter-gradient kernel.</summary>
internal readonly struct BatchGradientArgs
{
    public readonly ArrayView<float> X, Stats, Dy, DWeight, DBias;
    public readonly int N, C, S, Width;

    public BatchGradientArgs(ArrayView<float> x, ArrayView<float> stats, ArrayView<float> dy, ArrayView<float> dweight, ArrayView<float> dbias,
        int n, int c, int s, int width)
    {
        X = x; Stats = stats; Dy = dy; DWeight = dweight; DBias = dbias; N = n; C = c; S = s; Width = width;
    }
}

/// <summary>The arguments of the elementwise batch normalization: Scale holds invStd, or the variance when FromVariance is 1.</summary>
internal readonly struct BatchNormalizeArgs
{
    public readonly ArrayView<float> X, Mean, Scale, Weight, Bias, Y;
    public readonly int C, S, FromVariance;
    public readonly float Eps;

    public BatchNormalizeArgs(ArrayView<float> x, ArrayView<float> mean, ArrayView<float> scale, ArrayView<float> weight, ArrayView<float> bias,
        ArrayView<float> y, int c, int s, int fromVariance, float eps)
    {
        X = x; Mean = mean; Scale = scale; Weight = weight; Bias = bias; Y = y; C = c; S = s; FromVariance = fromVariance; Eps = eps;
    }
}

/// <summary>The arguments of the batch-norm input gradient.</summary>
internal readonly struct BatchInputGradientArgs
{
    public readonly ArrayView<float> X, Weight, Stats, Dy, DWeight, DBias, Dx;
    public readonly int N, C, S;

    public BatchInputGradientArgs(ArrayView<float> x, ArrayView<float> weight, ArrayView<float> stats, ArrayView<float> dy,
        ArrayView<float> dweight, ArrayView<float> dbias, ArrayView<float> dx, int n, int c, int s)
    {
        X = x; Weight = weight; Stats = stats; Dy = dy; DWeight = dweight; DBias = dbias; Dx = dx; N = n; C = c; S = s;
    }
}

/// <summary>The arguments of the layer-norm kernels (A, B and D are the views each kernel names in its summary).</summary>
internal readonly struct LayerNormArgs
{
    public readonly ArrayView<float> X, A, B, D, Stats;
    public readonly int Features, Rows, Width;
    public readonly float Eps;

    public LayerNormArgs(ArrayView<float> x, ArrayView<float> a, ArrayView<float> b, ArrayView<float> d, ArrayView<float> stats,
        int features, float eps, int rows = 0, int width = 1)
    {
        X = x; A = a; B = b; D = d; Stats = stats; Features = features; Eps = eps; Rows = rows; Width = width;
    }
}

/// <summary>Deterministic group reductions in shared memory (the group is width·lanes threads, thread t = lane·width + column).</summary>
internal static class GroupReduce
{
    /// <summary>The sum over the lanes of each column, returned to every thread of the column (all threads must call it).</summary>
    public static double LaneSum(ArrayView<double> shared, double value, int t, int width, int lanes)
    {
        shared[t] = value;
        Group.Barrier();
        for (int stride = lanes >> 1; stride > 0; stride >>= 1)
        {
            if (t < stride * width) shared[t] += shared[t + stride * width];
            Group.Barrier();
        }
        double result = shared[t % width];
        Group.Barrier();
        return result;
    }

    /// <summary>The sum over the lanes of each column, returned to every thread of the column (all threads must call it).</summary>
    public static float LaneSum(ArrayView<float> shared, float value, int t, int width, int lanes)
    {
        shared[t] = value;
        Group.Barrier();
        for (int stride = lanes >> 1; stride > 0; stride >>= 1)
        {
            if (t < stride * width) shared[t] += shared[t + stride * width];
            Group.Barrier();
        }
        float result = shared[t % width];
        Group.Barrier();
        return result;
    }

    /// <summary>The maximum over the lanes of each column, returned to every thread of the column (all threads must call it).</summary>
    public static float LaneMax(ArrayView<float> shared, float value, int t, int width, int lanes)
    {
        shared[t] = value;
        Group.Barrier();
        for (int stride = lanes >> 1; stride > 0; stride >>= 1)
        {
            if (t < stride * width) shared[t] = XMath.Max(shared[t], shared[t + stride * width]);
            Group.Barrier();
        }
        float result = shared[t % width];
        Group.Barrier();
        return result;
    }
}

/// <summary>The batch-norm, dropout and layer-norm kernels, compiled once per device.</summary>
internal sealed class NormalizationKernels
{
    public readonly Action<AcceleratorStream, KernelConfig, BatchStatsArgs> BatchStats;
    public readonly Action<AcceleratorStream, KernelConfig, BatchGradientArgs> BatchGradients;
    public readonly Action<AcceleratorStream, Index1D, BatchNormalizeArgs> Normalize;
    public readonly Action<AcceleratorStream, Index1D, BatchInputGradientArgs> InputGradient;
    public readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, float, double> UpdateRunning;
    public readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, float, float, uint, uint> Dropout;
    public readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>> DropoutBackward;
    public readonly Action<AcceleratorStream, KernelConfig, LayerNormArgs> LayerNorm;
    public readonly Action<AcceleratorStream, KernelConfig, LayerNormArgs> LayerNormBackward;
    public readonly Action<AcceleratorStream, KernelConfig, LayerNormArgs> LayerNormWeight;

    public NormalizationKernels(Accelerator a)
    {
        BatchStats = a.LoadKernel<BatchStatsArgs>(BatchStatsKernel);
        BatchGradients = a.LoadKernel<BatchGradientArgs>(BatchGradientsKernel);
        Normalize = a.LoadAutoGroupedKernel<Index1D, BatchNormalizeArgs>(NormalizeKernel);
        InputGradient = a.LoadAutoGroupedKernel<Index1D, BatchInputGradientArgs>(InputGradientKernel);
        UpdateRunning = a.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, float, double>(UpdateRunningKernel);
        Dropout = a.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, float, float, uint, uint>(DropoutKernel);
        DropoutBackward = a.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>>(DropoutBackwardKernel);
        LayerNorm = a.LoadKernel<LayerNormArgs>(LayerNormKernel);
        LayerNormBackward = a.LoadKernel<LayerNormArgs>(LayerNormBackwardKernel);
        LayerNormWeight = a.LoadKernel<LayerNormArgs>(LayerNormWeightKernel);
    }

    /// <summary>
    /// Per channel: mean, then the biased variance (two passes, double), as the CPU. A group holds Width channels; its
    /// lanes walk the channel's n·s values (flat index j = b·s + i).
    /// </summary>
    static void BatchStatsKernel(BatchStatsArgs a)
    {
        var shared = SharedMemory.Allocate<double>(GpuKernels.GroupSize);
        int t = Group.IdxX, width = a.Width, lanes = Group.DimX / width;
        int col = t % width, lane = t / width;
        int ch = Grid.IdxX * width + col;
        bool valid = ch < a.C;
        int count = a.N * a.S;
        double sum = 0;
        if (valid)
        {
            for (int j = lane; j < count; j += lanes)
            {
                int b = j / a.S;
                sum += a.X[((long)b * a.C + ch) * a.S + (j - b * a.S)];
            }
        }
        sum = GroupReduce.LaneSum(shared, sum, t, width, lanes);
        double m = count > 0 ? sum / count : 0;
        double sq = 0;
        if (valid)
        {
            for (int j = lane; j < count; j += lanes)
            {
                int b = j / a.S;
                double d = a.X[((long)b * a.C + ch) * a.S + (j - b * a.S)] - m;
                sq += d * d;
            }
        }
        sq = GroupReduce.LaneSum(shared, sq, t, width, lanes);
        if (valid && lane == 0)
        {
            double v = count > 0 ? sq / count : 0;
            a.Stats[ch] = (float)m;
            a.Stats[a.C + ch] = (float)(1.0 / XMath.Sqrt(v + a.Eps));
            a.Stats[2 * a.C + ch] = (float)v;
        }
    }

    /// <summary>Per channel: Σ dy·(x − mean)·invStd and Σ dy (double), to whichever outputs are not empty.</summary>
    static void BatchGradientsKernel(BatchGradientArgs a)
    {
        var shared = SharedMemory.Allocate<double>(GpuKernels.GroupSize);
        int t = Group.IdxX, width = a.Width, lanes = Group.DimX / width;
        int col = t % width, lane = t / width;
        int ch = Grid.IdxX * width + col;
        bool valid = ch < a.C;
        int count = a.N * a.S;
        double sumDy = 0, sumDyX = 0;
        if (valid)
        {
            double m = a.Stats[ch];
            for (int j = lane; j < count; j += lanes)
            {
                int b = j / a.S;
                long at = ((long)b * a.C + ch) * a.S + (j - b * a.S);
                double g = a.Dy[at];
                sumDy += g;
                sumDyX += g * (a.X[at] - m);
            }
        }
        sumDy = GroupReduce.LaneSum(shared, sumDy, t, width, lanes);
        sumDyX = GroupReduce.LaneSum(shared, sumDyX, t, width, lanes);
        if (valid && lane == 0)
        {
            if (a.DWeight.Length > 0) a.DWeight[ch] = (float)(sumDyX * a.Stats[a.C + ch]);
            if (a.DBias.Length > 0) a.DBias[ch] = (float)sumDy;
        }
    }

    /// <summary>y = (x − mean)·invStd·weight + bias (s = 1) or a·x + d with a = invStd·weight, d = bias − mean·a (s &gt; 1), as the CPU.</summary>
    static void NormalizeKernel(Index1D i, BatchNormalizeArgs a)
    {
        int ch = a.S == 1 ? i % a.C : i / a.S % a.C;
        float inv = a.FromVariance != 0 ? 1f / XMath.Sqrt(a.Scale[ch] + a.Eps) : a.Scale[ch];
        if (a.S == 1)
        {
            a.Y[i] = (a.X[i] - a.Mean[ch]) * inv * a.Weight[ch] + a.Bias[ch];
        }
        else
        {
            float scale = inv * a.Weight[ch], shift = a.Bias[ch] - a.Mean[ch] * scale;
            a.Y[i] = scale * a.X[i] + shift;
        }
    }

    /// <summary>dx = a·dy + bx·x + d per element, with the CPU's per-channel coefficients.</summary>
    static void InputGradientKernel(Index1D i, BatchInputGradientArgs a)
    {
        int ch = i / a.S % a.C;
        float count = (float)a.N * a.S;
        float m = a.Stats[ch], inv = a.Stats[a.C + ch];
        float k = a.Weight[ch] * inv / count;
        float ca = k * count, bx = -k * inv * a.DWeight[ch], d = -k * a.DBias[ch] - bx * m;
        a.Dx[i] = ca * a.Dy[i] + bx * a.X[i] + d;
    }

    static void UpdateRunningKernel(Index1D ch, ArrayView<float> stats, ArrayView<float> runningMean, ArrayView<float> runningVar, int c, float momentum, double unbias)
    {
        runningMean[ch] = (1f - momentum) * runningMean[ch] + momentum * stats[ch];
        runningVar[ch] = (float)((1.0 - momentum) * runningVar[ch] + momentum * stats[2 * c + ch] * unbias);
    }

    /// <summary>The CPU's <see cref="DropoutRandom.Uniform"/> for element i: lowbias32(lowbias32(i ^ k0) + k1) &gt;&gt; 8, over 2²⁴.</summary>
    static void DropoutKernel(Index1D i, ArrayView<float> x, ArrayView<float> mask, ArrayView<float> y, float p, float scale, uint k0, uint k1)
    {
        uint h = Hash((uint)i.X ^ k0) + k1;
        h = Hash(h);
        float u = (int)(h >> 8) * (1f / 16777216f);
        float m = p < 1f && u >= p ? scale : 0f;
        mask[i] = m;
        y[i] = x[i] * m;
    }

    /// <summary>The 32-bit finalizer "lowbias32", as <see cref="DropoutRandom.Hash"/>.</summary>
    static uint Hash(uint x)
    {
        x ^= x >> 16;
        x *= 0x7FEB352Du;
        x ^= x >> 15;
        x *= 0x846CA68Bu;
        x ^= x >> 16;
        return x;
    }

    static void DropoutBackwardKernel(Index1D i, ArrayView<float> dy, ArrayView<float> mask, ArrayView<float> dx) => dx[i] = dy[i] * mask[i];

    /// <summary>One group per row: A = weight, B = bias, D = y. Mean and variance sums in double, as the CPU.</summary>
    static void LayerNormKernel(LayerNormArgs a)
    {
        var shared = SharedMemory.Allocate<double>(GpuKernels.GroupSize);
        int t = Group.IdxX, threads = Group.DimX, f = a.Features;
        long o = (long)Grid.IdxX * f;
        double sum = 0;
        for (int j = t; j < f; j += threads) sum += a.X[o + j];
        sum = GroupReduce.LaneSum(shared, sum, t, 1, threads);
        float mean = (float)(sum / f);
        double sq = 0;
        for (int j = t; j < f; j += threads)
        {
            float d = a.X[o + j] - mean;
            sq += d * d;
        }
        sq = GroupReduce.LaneSum(shared, sq, t, 1, threads);
        float rstd = 1f / XMath.Sqrt((float)(sq / f) + a.Eps);
        if (t == 0)
        {
            a.Stats[2L * Grid.IdxX] = mean;
            a.Stats[2L * Grid.IdxX + 1] = rstd;
        }
        for (int j = t; j < f; j += threads) a.D[o + j] = (a.X[o + j] - mean) * rstd * a.A[j] + a.B[j];
    }

    /// <summary>One group per row: A = weight, B = dy, D = dx.</summary>
    static void LayerNormBackwardKernel(LayerNormArgs a)
    {
        var shared = SharedMemory.Allocate<float>(GpuKernels.GroupSize);
        int t = Group.IdxX, threads = Group.DimX, f = a.Features;
        long r = Grid.IdxX, o = r * f;
        float mean = a.Stats[2 * r], rstd = a.Stats[2 * r + 1];
        float sumG = 0, sumGx = 0;
        for (int j = t; j < f; j += threads)
        {
            float g = a.B[o + j] * a.A[j];
            sumG += g;
            sumGx += g * (a.X[o + j] - mean) * rstd;
        }
        sumG = GroupReduce.LaneSum(shared, sumG, t, 1, threads) / f;
        sumGx = GroupReduce.LaneSum(shared, sumGx, t, 1, threads) / f;
        for (int j = t; j < f; j += threads)
            a.D[o + j] = rstd * (a.B[o + j] * a.A[j] - sumG - (a.X[o + j] - mean) * rstd * sumGx);
    }

    /// <summary>A group per tile of Width columns, lanes over the rows: B = dy, D = dWeight.</summary>
    static void LayerNormWeightKernel(LayerNormArgs a)
    {
        var shared = SharedMemory.Allocate<float>(GpuKernels.GroupSize);
        int t = Group.IdxX, width = a.Width, lanes = Group.DimX / width;
        int col = t % width, lane = t / width;
        int j = Grid.IdxX * width + col;
        float sum = 0;
        if (j < a.Features)
        {
            for (int r = lane; r < a.Rows; r += lanes)
            {
                long at = (long)r * a.Features + j;
                sum += a.B[at] * (a.X[at] - a.Stats[2L * r]) * a.Stats[2L * r + 1];
            }
        }
        sum = GroupReduce.LaneSum(shared, sum, t, width, lanes);
        if (j < a.Features && lane == 0) a.D[j] = sum;
    }
}
