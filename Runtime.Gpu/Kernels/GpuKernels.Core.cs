using System;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace ModelGen.Gpu;

// Softmax, reductions, broadcasting, softmax cross-entropy and mean squared error (the GPU twins of Runtime/Cpu/Kernels.cs),
// and the small device-side helpers the generated code needs around them (Mean, Copy, Fill, CountCorrect, ScalarAdd).
//
// Reductions are deterministic: a line (one softmax row, one reduced output) is reduced by a fixed tree in shared
// memory, by a group of its own where the line is contiguous (inner = 1, or the innermost dimension summed), else by
// the slices of a group that holds a tile of up to 32 neighbouring lines as lanes (so a warp reads 32 neighbouring
// values). Whole-buffer reductions (Sum, Mean, the losses) take two passes through a per-device buffer of partial
// sums, as many as the device holds groups at once. No float atomics. Sums are in float, the CPU sums losses in
// double, so they agree to ~1e-6 relative.
public static partial class GpuKernels
{
    /// <summary>y = softmax(x) along the middle axis of the (outer × axis × inner) view (see <c>ModelGen.Cpu.Kernels.Softmax</c>).</summary>
    /// <param name="device">The device whose stream runs the kernel.</param>
    /// <param name="x">The input, outer·axis·inner values.</param>
    /// <param name="y">The output, same layout (may be the same view as x).</param>
    /// <param name="outer">The product of the dimensions before the axis.</param>
    /// <param name="axis">The length of the axis.</param>
    /// <param name="inner">The product of the dimensions after the axis.</param>
    public static void Softmax(GpuDevice device, ArrayView<float> x, ArrayView<float> y, int outer, int axis, int inner)
    {
        int total = CoreChecks.View(x.Length, y.Length, outer, axis, inner, nameof(x), nameof(y));
        if (total > 0) CoreLaunch.RunLines(device, CoreCode.OpSoftmax, x, default, y, outer, axis, inner, 1f, false, default);
    }

    /// <summary>y = log softmax(x) = x − max − log Σ e^(x − max) along the middle axis (see <c>ModelGen.Cpu.Kernels.LogSoftmax</c>).</summary>
    /// <param name="device">The device whose stream runs the kernel.</param>
    /// <param name="x">The input, outer·axis·inner values.</param>
    /// <param name="y">The output, same layout (may be the same view as x).</param>
    /// <param name="outer">The product of the dimensions before the axis.</param>
    /// <param name="axis">The length of the axis.</param>
    /// <param name="inner">The product of the dimensions after the axis.</param>
    public static void LogSoftmax(GpuDevice device, ArrayView<float> x, ArrayView<float> y, int outer, int axis, int inner)
    {
        int total = CoreChecks.View(x.Length, y.Length, outer, axis, inner, nameof(x), nameof(y));
        if (total > 0) CoreLaunch.RunLines(device, CoreCode.OpLogSoftmax, x, default, y, outer, axis, inner, 1f, false, default);
    }

    /// <summary>dx = y ⊙ (dy − Σ_axis dy ⊙ y), the gradient of softmax given its output y.</summary>
    /// <param name="device">The device whose stream runs the kernel.</param>
    /// <param name="y">The softmax output.</param>
    /// <param name="dy">The gradient with respect to y.</param>
    /// <param name="dx">The gradient with respect to the softmax input (may be the same view as dy).</param>
    /// <param name="outer">The product of the dimensions before the axis.</param>
    /// <param name="axis">The length of the axis.</param>
    /// <param name="inner">The product of the dimensions after the axis.</param>
    public static void SoftmaxBackward(GpuDevice device, ArrayView<float> y, ArrayView<float> dy, ArrayView<float> dx, int outer, int axis, int inner)
    {
        int total = CoreChecks.View(y.Length, dx.Length, outer, axis, inner, nameof(y), nameof(dx));
        CoreChecks.Length(dy.Length, total, nameof(dy));
        if (total > 0) CoreLaunch.RunLines(device, CoreCode.OpSoftmaxBackward, y, dy, dx, outer, axis, inner, 1f, false, default);
    }

    /// <summary>dx = dy − e^y · Σ_axis dy, the gradient of log-softmax given its output y.</summary>
    /// <param name="device">The device whose stream runs the kernel.</param>
    /// <param name="y">The log-softmax output.</param>
    /// <param name="dy">The gradient with respect to y.</param>
    /// <param name="dx">The gradient with respect to the log-softmax input (may be the same view as dy).</param>
    /// <param name="outer">The product of the dimensions before the axis.</param>
    /// <param name="axis">The length of the axis.</param>
    /// <param name="inner">The product of the dimensions after the axis.</param>
    public static void LogSoftmaxBackward(GpuDevice device, ArrayView<float> y, ArrayView<float> dy, ArrayView<float> dx, int outer, int axis, int inner)
    {
        int total = CoreChecks.View(y.Length, dx.Length, outer, axis, inner, nameof(y), nameof(dx));
        CoreChecks.Length(dy.Length, total, nameof(dy));
        if (total > 0) CoreLaunch.RunLines(device, CoreCode.OpLogSoftmaxBackward, y, dy, dx, outer, axis, inner, 1f, false, default);
    }

    /// <summary>result[0] = Σ x (a deterministic tree in float; 0 for an empty view).</summary>
    /// <param name="device">The device whose stream runs the kernel.</param>
    /// <param name="x">The values.</param>
    /// <param name="result">Receives the sum in element 0.</param>
    public static void Sum(GpuDevice device, ArrayView<float> x, ArrayView<float> result)
    {
        CoreChecks.Result(result.Length);
        CoreLaunch.CheckInt(x.Length, nameof(x));
        CoreLaunch.RunMapReduce(device, CoreCode.MapSum, x, default, (int)x.Length, 0f, 1f, result);
    }

    /// <summary>
    /// result[0] = Σ x / x.Length, the mean of all values (a deterministic tree in float). The CPU twin is
    /// <c>(float)(Sum(x) / x.Length)</c>; x must not be empty (as for the mean squared error).
    /// </summary>
    /// <param name="device">The device whose stream runs the kernel.</param>
    /// <param name="x">The values (at least one).</param>
    /// <param name="result">Receives the mean in element 0.</param>
    public static void Mean(GpuDevice device, ArrayView<float> x, ArrayView<float> result)
    {
        CoreChecks.Result(result.Length);
        CoreLaunch.CheckInt(x.Length, nameof(x));
        if (x.Length == 0) throw new ArgumentException("The mean of zero values is undefined.", nameof(x));
        CoreLaunch.RunMapReduce(device, CoreCode.MapSum, x, default, (int)x.Length, 0f, 1f / x.Length, result);
    }

    /// <summary>y[o, i] = scale · Σ_a x[o, a, i]: sums the middle axis of the (outer × axis × inner) view (y overwritten).</summary>
    /// <param name="device">The device whose stream runs the kernel.</param>
    /// <param name="x">The input, outer·axis·inner values.</param>
    /// <param name="outer">The product of the dimensions before the axis.</param>
    /// <param name="axis">The length of the summed axis.</param>
    /// <param name="inner">The product of the dimensions after the axis.</param>
    /// <param name="y">The output, outer·inner values (overwritten).</param>
    /// <param name="scale">A factor applied to every sum (1/axis for a mean).</param>
    public static void ReduceSum(GpuDevice device, ArrayView<float> x, int outer, int axis, int inner, ArrayView<float> y, float scale)
    {
        CoreChecks.NonNegative(outer, axis, inner);
        CoreChecks.Length(x.Length, ModelGen.Cpu.Kernels.Elements(outer, axis, inner), nameof(x));
        CoreChecks.Length(y.Length, (long)outer * inner, nameof(y));
        if ((long)outer * inner > 0) CoreLaunch.RunLines(device, CoreCode.OpReduceSum, x, default, y, outer, axis, inner, scale, false, default);
    }

    /// <summary>dx[o, a, i] = scale · dy[o, i]: the gradient of <see cref="ReduceSum"/> (copies along the axis).</summary>
    /// <param name="device">The device whose stream runs the kernel.</param>
    /// <param name="dy">The reduced values, outer·inner.</param>
    /// <param name="outer">The product of the dimensions before the axis.</param>
    /// <param name="axis">The length of the axis to broadcast along.</param>
    /// <param name="inner">The product of the dimensions after the axis.</param>
    /// <param name="dx">The output, outer·axis·inner values (overwritten).</param>
    /// <param name="scale">A factor applied to every value.</param>
    public static void BroadcastAxis(GpuDevice device, ArrayView<float> dy, int outer, int axis, int inner, ArrayView<float> dx, float scale)
    {
        CoreChecks.NonNegative(outer, axis, inner);
        CoreChecks.Length(dy.Length, (long)outer * inner, nameof(dy));
        CoreChecks.Length(dx.Length, ModelGen.Cpu.Kernels.Elements(outer, axis, inner), nameof(dx));
        int total = outer * axis * inner;
        if (total == 0) return;
        CoreLaunch.Core(device).BroadcastAxis(device.Stream, total, new CoreAxisArgs { A = dy, Y = dx, Axis = axis, Inner = inner, Scale = scale });
    }

    /// <summary>
    /// Numpy broadcasting: y (shape <paramref name="yShape"/>) = x (shape <paramref name="xShape"/>) repeated along every
    /// dimension where x has size 1 or that x lacks (shapes aligned at their last dimension). After dropping dimensions
    /// of size 1 and merging neighbours, at most 8 dimensions may remain.
    /// </summary>
    /// <param name="device">The device whose stream runs the kernel.</param>
    /// <param name="x">The input values.</param>
    /// <param name="xShape">The input shape.</param>
    /// <param name="y">The output values (overwritten).</param>
    /// <param name="yShape">The output shape; x's shape must broadcast to it.</param>
    public static void BroadcastTo(GpuDevice device, ArrayView<float> x, ReadOnlySpan<int> xShape, ArrayView<float> y, ReadOnlySpan<int> yShape)
    {
        using var stridesScratch = new ModelGen.Cpu.Scratch<int>(stackalloc int[ModelGen.Cpu.Scratch.StackInts], Math.Max(yShape.Length, 1));
        Span<int> strides = stridesScratch.Span;
        long xCount = ModelGen.Cpu.Kernels.BroadcastStrides(xShape, yShape, strides, nameof(xShape));
        long yCount = ModelGen.Cpu.Kernels.ShapeCount(yShape, nameof(yShape));
        CoreChecks.Length(x.Length, xCount, nameof(x));
        CoreChecks.Length(y.Length, yCount, nameof(y));
        if (yCount == 0) return;
        var plan = ShapePlan.Collapse(yShape, strides.Slice(0, yShape.Length));
        CoreLaunch.Core(device).Gather(device.Stream, (int)yCount, new CoreGatherArgs { X = x, Y = y, Map = plan.All() });
    }

    /// <summary>
    /// The adjoint of <see cref="BroadcastTo"/>: y (shape <paramref name="yShape"/>) = x summed over every dimension that
    /// broadcasting y to <paramref name="xShape"/> would repeat (y overwritten). At most 8 dimensions after merging.
    /// </summary>
    /// <param name="device">The device whose stream runs the kernel.</param>
    /// <param name="x">The broadcast values (e.g. a gradient).</param>
    /// <param name="xShape">Their shape.</param>
    /// <param name="y">The output values (overwritten).</param>
    /// <param name="yShape">The smaller shape; it must broadcast to <paramref name="xShape"/>.</param>
    public static void ReduceTo(GpuDevice device, ArrayView<float> x, ReadOnlySpan<int> xShape, ArrayView<float> y, ReadOnlySpan<int> yShape)
    {
        using var stridesScratch = new ModelGen.Cpu.Scratch<int>(stackalloc int[ModelGen.Cpu.Scratch.StackInts], Math.Max(xShape.Length, 1));
        Span<int> strides = stridesScratch.Span;
        long yCount = ModelGen.Cpu.Kernels.BroadcastStrides(yShape, xShape, strides, nameof(yShape));
        long xCount = ModelGen.Cpu.Kernels.ShapeCount(xShape, nameof(xShape));
        CoreChecks.Length(x.Length, xCount, nameof(x));
        CoreChecks.Length(y.Length, yCount, nameof(y));
        if (yCount == 0) return;
        var k = CoreLaunch.Core(device);
        if (xCount == 0)
        {
            k.Fill(device.Stream, (int)yCount, new CoreFillArgs { Y = y, Value = 0f, Scale = 1f });
            return;
        }
        var plan = ShapePlan.Collapse(xShape, strides.Slice(0, xShape.Length));
        // Where the innermost dimension is summed (and long), a group per output whose threads read neighbours; else
        // tiles of neighbouring outputs (lanes, reading neighbouring x) times slices of the summed positions.
        int count = plan.ReducedCount;
        var (lanes, threads) = plan.InnermostReduced && count >= 32
            ? (1, CoreLaunch.LineGroupSize(device, count))
            : CoreLaunch.TileShape(device, count);
        var args = new CoreReduceToArgs { X = x, Y = y, Kept = plan.Kept(), Reduced = plan.Reduced(), Count = count, Outputs = (int)yCount, Lanes = lanes };
        k.ReduceTo(device.Stream, new KernelConfig((int)((yCount + lanes - 1) / lanes), threads), args);
    }

    /// <summary>y[c] = Σ_r x[r, c] (or y[c] += … when <paramref name="accumulate"/>): the bias gradient of a linear layer.</summary>
    /// <param name="device">The device whose stream runs the kernel.</param>
    /// <param name="x">The matrix, rows × cols, row-major.</param>
    /// <param name="rows">The number of rows summed.</param>
    /// <param name="cols">The number of columns.</param>
    /// <param name="y">The cols sums.</param>
    /// <param name="accumulate">Add to y instead of overwriting it.</param>
    public static void SumRows(GpuDevice device, ArrayView<float> x, int rows, int cols, ArrayView<float> y, bool accumulate)
    {
        CoreChecks.NonNegative(rows, cols, 1);
        CoreChecks.Length(x.Length, (long)rows * cols, nameof(x));
        CoreChecks.Length(y.Length, cols, nameof(y));
        if (cols > 0) CoreLaunch.RunLines(device, CoreCode.OpReduceSum, x, default, y, 1, rows, cols, 1f, accumulate, default);
    }

    /// <summary>
    /// result[0] = the mean over rows of −log softmax(logits)[label]; writes softmax(logits) to
    /// <paramref name="probabilities"/> (rows × classes) for the backward pass. Labels live on the device and are not
    /// checked by the host: a row whose label is outside [0, classes) makes the loss NaN. rows = 0 gives 0.
    /// </summary>
    /// <param name="device">The device whose stream runs the kernel.</param>
    /// <param name="logits">rows × classes scores.</param>
    /// <param name="labels">rows class indices in [0, classes).</param>
    /// <param name="rows">The batch size.</param>
    /// <param name="classes">The number of classes.</param>
    /// <param name="probabilities">Receives softmax(logits), rows × classes.</param>
    /// <param name="result">Receives the mean cross-entropy loss in element 0.</param>
    public static void SoftmaxCrossEntropy(GpuDevice device, ArrayView<float> logits, ArrayView<int> labels, int rows, int classes, ArrayView<float> probabilities, ArrayView<float> result)
    {
        CoreChecks.Losses(logits.Length, labels.Length, rows, classes, nameof(logits));
        CoreChecks.Length(probabilities.Length, (long)rows * classes, nameof(probabilities));
        CoreChecks.Result(result.Length);
        CoreLaunch.RunRowLoss(device, CoreCode.RowLabels, logits, labels, default, probabilities, rows, classes, 0f, result);
    }

    /// <summary>dLogits = (p − onehot(label)) · dLoss / rows: the gradient of <see cref="SoftmaxCrossEntropy"/> (a row with an invalid label gets NaN).</summary>
    /// <param name="device">The device whose stream runs the kernel.</param>
    /// <param name="probabilities">The probabilities written by the forward call.</param>
    /// <param name="labels">rows class indices.</param>
    /// <param name="rows">The batch size.</param>
    /// <param name="classes">The number of classes.</param>
    /// <param name="dLoss">The gradient of the final objective with respect to the loss.</param>
    /// <param name="dLogits">Receives the gradient with respect to the logits (may be the probabilities view).</param>
    public static void SoftmaxCrossEntropyBackward(GpuDevice device, ArrayView<float> probabilities, ArrayView<int> labels, int rows, int classes, DeviceScalar dLoss, ArrayView<float> dLogits)
    {
        CoreChecks.Losses(probabilities.Length, labels.Length, rows, classes, nameof(probabilities));
        CoreChecks.Length(dLogits.Length, (long)rows * classes, nameof(dLogits));
        if (rows == 0) return;
        CoreLaunch.Core(device).LabelGradient(device.Stream, rows * classes,
            new CoreLabelGradArgs { P = probabilities, Labels = labels, Y = dLogits, Rows = rows, Classes = classes, Smoothing = 0f, DLoss = dLoss });
    }

    /// <summary>result[0] = the mean of (prediction − target)² over all elements (a float tree; the CPU adds in double).</summary>
    /// <param name="device">The device whose stream runs the kernel.</param>
    /// <param name="prediction">The predictions (at least one).</param>
    /// <param name="target">The targets, as many as the predictions.</param>
    /// <param name="result">Receives the mean squared error in element 0.</param>
    public static void MeanSquaredError(GpuDevice device, ArrayView<float> prediction, ArrayView<float> target, ArrayView<float> result)
    {
        if (prediction.Length != target.Length)
            throw new ArgumentException($"Prediction has {prediction.Length} values but target has {target.Length}.", nameof(target));
        if (prediction.Length == 0)
            throw new ArgumentException("The mean squared error of zero values is undefined.", nameof(prediction));
        CoreChecks.Result(result.Length);
        CoreLaunch.CheckInt(prediction.Length, nameof(prediction));
        CoreLaunch.RunMapReduce(device, CoreCode.MapSquaredError, prediction, target, (int)prediction.Length, 0f, 1f / prediction.Length, result);
    }

    /// <summary>dPrediction = 2 (prediction − target) / n · dLoss: the gradient of <see cref="MeanSquaredError"/>.</summary>
    /// <param name="device">The device whose stream runs the kernel.</param>
    /// <param name="prediction">The predictions.</param>
    /// <param name="target">The targets.</param>
    /// <param name="dLoss">The gradient with respect to the loss.</param>
    /// <param name="dPrediction">Receives the gradient with respect to the predictions.</param>
    public static void MeanSquaredErrorBackward(GpuDevice device, ArrayView<float> prediction, ArrayView<float> target, DeviceScalar dLoss, ArrayView<float> dPrediction)
    {
        if (prediction.Length != target.Length)
            throw new ArgumentException($"Prediction has {prediction.Length} values but target has {target.Length}.", nameof(target));
        CoreChecks.Length(dPrediction.Length, prediction.Length, nameof(dPrediction));
        CoreLaunch.CheckInt(prediction.Length, nameof(prediction));
        if (prediction.Length == 0) return;
        CoreLaunch.Core(device).PairGradient(device.Stream, (int)prediction.Length,
            new CorePairGradArgs { A = prediction, B = target, Y = dPrediction, Op = CoreCode.GradSquaredError, N = (int)prediction.Length, DLoss = dLoss });
    }

    /// <summary>y[i] = x[i] for i &lt; x.Length (y must hold at least as many; the views must not overlap). CPU twin: <c>x.CopyTo(y)</c>.</summary>
    /// <param name="device">The device whose stream runs the kernel.</param>
    /// <param name="x">The source.</param>
    /// <param name="y">The destination.</param>
    public static void Copy(GpuDevice device, ArrayView<float> x, ArrayView<float> y)
    {
        CoreChecks.Length(y.Length, x.Length, nameof(y));
        CoreLaunch.CheckInt(x.Length, nameof(x));
        if (x.Length == 0) return;
        CoreLaunch.Core(device).Copy(device.Stream, (int)x.Length, new CoreAxisArgs { A = x, Y = y });
    }

    /// <summary>Every element of y = value · scale (value read on the device). CPU twin: <c>y.Fill(value * scale)</c>.</summary>
    /// <param name="device">The device whose stream runs the kernel.</param>
    /// <param name="y">The destination (all of it).</param>
    /// <param name="value">The value (a constant or a one-element device view).</param>
    /// <param name="scale">A factor applied to the value.</param>
    public static void Fill(GpuDevice device, ArrayView<float> y, DeviceScalar value, float scale)
    {
        CoreLaunch.CheckInt(y.Length, nameof(y));
        if (y.Length == 0) return;
        CoreLaunch.Core(device).Fill(device.Stream, (int)y.Length, new CoreFillArgs { Y = y, Value = value, Scale = scale });
    }

    /// <summary>
    /// counter[0] += the number of rows r whose arg-max of outputs[r, ·] equals labels[r], the arg-max being the
    /// first largest element where NaN never wins (as <c>ModelBase.ArgMax</c>: a scan keeping the first element that is
    /// strictly greater than the best so far, so a NaN in column 0 keeps column 0). CPU twin: the same count in a loop.
    /// </summary>
    /// <param name="device">The device whose stream runs the kernel.</param>
    /// <param name="outputs">rows × classes scores.</param>
    /// <param name="labels">rows labels (any int: a label outside [0, classes) never matches).</param>
    /// <param name="rows">The number of rows.</param>
    /// <param name="classes">The number of classes (at least 1).</param>
    /// <param name="counter">Element 0 receives the count (added).</param>
    public static void CountCorrect(GpuDevice device, ArrayView<float> outputs, ArrayView<int> labels, int rows, int classes, ArrayView<int> counter)
    {
        CoreChecks.Losses(outputs.Length, labels.Length, rows, classes, nameof(outputs));
        if (counter.Length < 1) throw new ArgumentException("The counter view must hold at least one element.", nameof(counter));
        if (rows == 0) return;
        var k = CoreLaunch.Core(device);
        var args = new CoreCountArgs { Outputs = outputs, Labels = labels, Counter = counter, Rows = rows, Classes = classes };
        if (classes <= CoreLaunch.CountThreadClasses)
        {
            int group = CoreLaunch.MaxGroupSize(device);
            k.CountRowsByThread(device.Stream, new KernelConfig((rows + group - 1) / group, group), args);
        }
        else
        {
            int group = CoreLaunch.LineGroupSize(device, classes);
            k.CountRowsByGroup(device.Stream, new KernelConfig(Math.Min(rows, 4 * CoreLaunch.ResidentGroups(device, group)), group), args);
        }
    }

    /// <summary>accumulator[0] += source[0] · scale, on the device (a running loss sum). CPU twin: the same statement.</summary>
    /// <param name="device">The device whose stream runs the kernel.</param>
    /// <param name="source">Element 0 is added.</param>
    /// <param name="accumulator">Element 0 receives the sum.</param>
    /// <param name="scale">A factor applied to the source.</param>
    public static void ScalarAdd(GpuDevice device, ArrayView<float> source, ArrayView<float> accumulator, float scale)
    {
        if (source.Length < 1) throw new ArgumentException("The source view must hold at least one element.", nameof(source));
        CoreChecks.Result(accumulator.Length, nameof(accumulator));
        CoreLaunch.Core(device).ScalarAdd(device.Stream, 1, new CoreFillArgs { Y = accumulator, Value = new DeviceScalar(source, scale), Scale = 1f });
    }
}

/// <summary>The launch helpers of the core kernels (shared by the losses and layout files of this folder).</summary>
internal static class CoreLaunch
{
    /// <summary>Up to this many classes, CountCorrect scans a row per thread.</summary>
    internal const int CountThreadClasses = 64;

    internal static CoreFamily Core(GpuDevice device) => device.Kernels(a => new CoreFamily(a));

    internal static void CheckInt(long length, string name)
    {
        if (length > int.MaxValue) throw new ArgumentException($"View {name} has {length} elements; at most {int.MaxValue} are supported.", name);
    }

    /// <summary>
    /// The largest power of two threads per group, at most <see cref="CoreCode.MaxGroup"/>, that the device allows. On
    /// ILGPU's CPU accelerator every thread of a group is an OS thread and a group barrier a context switch, so there
    /// the groups are one warp (the kernels do not depend on the size).
    /// </summary>
    internal static int MaxGroupSize(GpuDevice device)
    {
        var accelerator = device.Accelerator;
        int limit = Math.Min(CoreCode.MaxGroup, accelerator.MaxNumThreadsPerGroup), size = 1;
        if (accelerator.AcceleratorType == AcceleratorType.CPU) limit = Math.Min(limit, Math.Max(accelerator.WarpSize, 2));
        while (size * 2 <= limit) size *= 2;
        return size;
    }

    /// <summary>
    /// The groups of <paramref name="group"/> threads the device holds at once (at least 8, at most
    /// <see cref="CoreCode.PartialsMaximum"/>): the grid of the reductions that loop over their work, so that their
    /// partial sums are few. It depends only on the device, so the reductions stay deterministic.
    /// </summary>
    internal static int ResidentGroups(GpuDevice device, int group)
    {
        var accelerator = device.Accelerator;
        long resident = (long)accelerator.NumMultiprocessors * Math.Max(1, accelerator.MaxNumThreadsPerMultiprocessor / group);
        return (int)Math.Clamp(resident, 8, CoreCode.PartialsMaximum);
    }

    /// <summary>Threads of a group that reduces one line of <paramref name="length"/> values: a power of two from a warp up to the maximum.</summary>
    internal static int LineGroupSize(GpuDevice device, long length)
    {
        int max = MaxGroupSize(device), size = Math.Min(32, max);
        while (size < max && size < length) size *= 2;
        return size;
    }

    /// <summary>
    /// Softmax-like line operations and sums along the middle axis of (outer × axis × inner): where inner = 1 a group per
    /// row, its threads striding along it; else a group per tile of neighbouring lines of one outer index, lanes across
    /// the lines (reading neighbouring values) times slices along the axis. Each line is reduced by a fixed tree.
    /// </summary>
    internal static void RunLines(GpuDevice device, int op, ArrayView<float> a, ArrayView<float> b, ArrayView<float> y, int outer, int axis, int inner, float scale, bool accumulate, DeviceScalar factor)
    {
        var (lanes, threads) = inner == 1 ? (1, LineGroupSize(device, axis)) : TileShape(device, axis);
        int tiles = (inner + lanes - 1) / lanes;
        var args = new CoreLineArgs
        {
            A = a, B = b, Y = y, Outer = outer, Axis = axis, Inner = inner, Op = op, Scale = scale, Accumulate = accumulate ? 1 : 0,
            Factor = factor, Lanes = lanes, Tiles = tiles,
        };
        Core(device).Lines(device.Stream, new KernelConfig((int)Math.Min((long)outer * tiles, int.MaxValue), threads), args);
    }

    /// <summary>
    /// The lanes and threads of a group that reduces neighbouring lines (strided by 1 in memory) along
    /// <paramref name="length"/> positions: up to 32 lanes, at least two slices, fewer slices for short lines.
    /// </summary>
    internal static (int Lanes, int Threads) TileShape(GpuDevice device, long length)
    {
        int threads = MaxGroupSize(device), lanes = Math.Max(1, Math.Min(32, threads / 2)), slices = threads / lanes;
        while (slices > 2 && slices / 2 >= length) slices /= 2;
        return (lanes, lanes * slices);
    }

    /// <summary>
    /// result[0] = scale · Σ_i term(i): pass 1 has up to <see cref="ResidentGroups"/> groups (a number that
    /// depends only on the length and the device) each reducing a grid-strided share; pass 2 (when there was more than one group) sums
    /// their partials in one group. The per-device partials buffer is guarded so that two host threads queueing
    /// reductions on the same device do not interleave the passes.
    /// </summary>
    internal static void RunMapReduce(GpuDevice device, int op, ArrayView<float> a, ArrayView<float> b, int n, float param, float scale, ArrayView<float> result)
    {
        var k = Core(device);
        int group = MaxGroupSize(device);
        long perGroup = (long)group * 4;
        int groups = (int)Math.Clamp((n + perGroup - 1) / perGroup, 1, ResidentGroups(device, group));
        if (groups == 1)
        {
            k.MapReduce(device.Stream, new KernelConfig(1, group), new CoreMapArgs { A = a, B = b, Out = result, N = n, Op = op, Param = param, Scale = scale });
            return;
        }
        lock (k.Gate)
        {
            var partials = k.Partials.View;
            k.MapReduce(device.Stream, new KernelConfig(groups, group), new CoreMapArgs { A = a, B = b, Out = partials, N = n, Op = op, Param = param, Scale = 1f });
            k.MapReduce(device.Stream, new KernelConfig(1, group), new CoreMapArgs { A = partials, Out = result, N = groups, Op = CoreCode.MapSum, Scale = scale });
        }
    }

    /// <summary>
    /// Per-row softmax losses: up to <see cref="ResidentGroups"/> groups, each taking rows g, g + G, …: the group
    /// reduces a row's max and Σ e^(x − max) in shared memory, writes the probabilities, and its first thread adds the
    /// row's loss in row order; the groups' partials are then summed by one group. result[0] = Σ / rows.
    /// </summary>
    internal static void RunRowLoss(GpuDevice device, int mode, ArrayView<float> logits, ArrayView<int> labels, ArrayView<float> targets, ArrayView<float> probabilities,
        int rows, int classes, float smoothing, ArrayView<float> result)
    {
        var k = Core(device);
        if (rows == 0)
        {
            // The CPU returns 0 for the label losses and 0/0 (NaN) for the per-position one.
            k.Fill(device.Stream, 1, new CoreFillArgs { Y = result, Value = mode == CoreCode.RowTargets ? float.NaN : 0f, Scale = 1f });
            return;
        }
        int group = LineGroupSize(device, classes), groups = Math.Min(rows, ResidentGroups(device, group));
        var args = new CoreRowLossArgs
        {
            Logits = logits, Labels = labels, Targets = targets, Probabilities = probabilities,
            Rows = rows, Classes = classes, Mode = mode, Smoothing = smoothing,
        };
        if (groups == 1)
        {
            args.Out = result;
            args.Scale = 1f / rows;
            k.RowLoss(device.Stream, new KernelConfig(1, group), args);
            return;
        }
        lock (k.Gate)
        {
            var partials = k.Partials.View;
            args.Out = partials;
            args.Scale = 1f;
            k.RowLoss(device.Stream, new KernelConfig(groups, group), args);
            k.MapReduce(device.Stream, new KernelConfig(1, MaxGroupSize(device)), new CoreMapArgs { A = partials, Out = result, N = groups, Op = CoreCode.MapSum, Scale = 1f / rows });
        }
    }

    /// <summary>The core kernels, compiled once per device, and the buffer of partial sums of the two-pass reductions.</summary>
    internal sealed class CoreFamily
    {
        public readonly object Gate = new();
        public readonly MemoryBuffer1D<float, Stride1D.Dense> Partials;
        public readonly Action<AcceleratorStream, KernelConfig, CoreLineArgs> Lines;
        public readonly Action<AcceleratorStream, KernelConfig, CoreMapArgs> MapReduce;
        public readonly Action<AcceleratorStream, KernelConfig, CoreRowLossArgs> RowLoss;
        public readonly Action<AcceleratorStream, Index1D, CoreLabelGradArgs> LabelGradient;
        public readonly Action<AcceleratorStream, Index1D, CorePairGradArgs> PairGradient;
        public readonly Action<AcceleratorStream, Index1D, CoreAxisArgs> BroadcastAxis;
        public readonly Action<AcceleratorStream, Index1D, CoreAxisArgs> Copy;
        public readonly Action<AcceleratorStream, Index1D, CoreGatherArgs> Gather;
        public readonly Action<AcceleratorStream, KernelConfig, CoreReduceToArgs> ReduceTo;
        public readonly Action<AcceleratorStream, Index1D, CoreFillArgs> Fill;
        public readonly Action<AcceleratorStream, Index1D, CoreFillArgs> ScalarAdd;
        public readonly Action<AcceleratorStream, KernelConfig, CoreCountArgs> CountRowsByThread;
        public readonly Action<AcceleratorStream, KernelConfig, CoreCountArgs> CountRowsByGroup;

        public CoreFamily(Accelerator a)
        {
            Partials = a.Allocate1D<float>(CoreCode.PartialsMaximum);
            Lines = a.LoadKernel<CoreLineArgs>(CoreCode.LinesKernel);
            MapReduce = a.LoadKernel<CoreMapArgs>(CoreCode.MapReduceKernel);
            RowLoss = a.LoadKernel<CoreRowLossArgs>(CoreCode.RowLossKernel);
            LabelGradient = a.LoadAutoGroupedKernel<Index1D, CoreLabelGradArgs>(CoreCode.LabelGradientKernel);
            PairGradient = a.LoadAutoGroupedKernel<Index1D, CorePairGradArgs>(CoreCode.PairGradientKernel);
            BroadcastAxis = a.LoadAutoGroupedKernel<Index1D, CoreAxisArgs>(CoreCode.BroadcastAxisKernel);
            Copy = a.LoadAutoGroupedKernel<Index1D, CoreAxisArgs>(CoreCode.CopyKernel);
            Gather = a.LoadAutoGroupedKernel<Index1D, CoreGatherArgs>(CoreCode.GatherKernel);
            ReduceTo = a.LoadKernel<CoreReduceToArgs>(CoreCode.ReduceToKernel);
            Fill = a.LoadAutoGroupedKernel<Index1D, CoreFillArgs>(CoreCode.FillKernel);
            ScalarAdd = a.LoadAutoGroupedKernel<Index1D, CoreFillArgs>(CoreCode.ScalarAddKernel);
            CountRowsByThread = a.LoadKernel<CoreCountArgs>(CoreCode.CountByThreadKernel);
            CountRowsByGroup = a.LoadKernel<CoreCountArgs>(CoreCode.CountByGroupKernel);
        }
    }
}

/// <summary>The host-side checks of the core kernels, with the CPU kernels' messages.</summary>
internal static class CoreChecks
{
    public static int View(long xLength, long yLength, int outer, int axis, int inner, string xName, string yName)
    {
        NonNegative(outer, axis, inner);
        long total = (long)outer * axis * inner;
        Length(xLength, total, xName);
        Length(yLength, total, yName);
        return (int)total;
    }

    public static void NonNegative(int outer, int axis, int inner)
    {
        if (outer < 0 || axis < 0 || inner < 0)
            throw new ArgumentException($"Sizes must be non-negative (outer={outer}, axis={axis}, inner={inner}).");
        if (ModelGen.Cpu.Kernels.Elements(outer, axis, inner) > int.MaxValue)
            throw new ArgumentException($"The view {outer} x {axis} x {inner} has more than {int.MaxValue} elements.");
    }

    public static void Length(long length, long needed, string name)
    {
        if (length < needed)
            throw new ArgumentException($"Span {name} has {length} elements but {needed} are needed.", name);
    }

    public static void Result(long length, string name = "result")
    {
        if (length < 1) throw new ArgumentException($"View {name} must hold at least one element.", name);
    }

    /// <summary>The CPU's loss checks except the labels' range, which lives on the device.</summary>
    public static void Losses(long length, long labels, int rows, int classes, string name)
    {
        if (rows < 0 || classes <= 0)
            throw new ArgumentException($"Need rows >= 0 and classes > 0 (rows={rows}, classes={classes}).");
        if ((long)rows * classes > int.MaxValue)
            throw new ArgumentException($"{rows} x {classes} values are more than {int.MaxValue}.");
        Length(length, (long)rows * classes, name);
        Length(labels, rows, "labels");
    }

    public static void SequenceRows(int rows, int classes)
    {
        if (rows < 0 || classes < 0)
            throw new ArgumentException($"Need rows >= 0 and classes >= 0 (rows={rows}, classes={classes}).");
        if ((long)rows * classes > int.MaxValue)
            throw new ArgumentException($"{rows} x {classes} values are more than {int.MaxValue}.");
    }

    public static void Pair(long a, long b, string name)
    {
        if (a != b) throw new ArgumentException($"The inputs have {a} and {b} values; they must have as many.", name);
        if (a > int.MaxValue) throw new ArgumentException($"The inputs have {a} values; at most {int.MaxValue} are supported.", name);
    }
}

/// <summary>
/// Up to eight dimensions, innermost first, each with a stride: <see cref="Offset"/> maps a row-major flat index over the
/// sizes to Σ index_d · stride_d. Built on the host (<see cref="ShapePlan"/>), read by kernels.
/// </summary>
internal struct ShapeMap8
{
    public const int MaxRank = 8;
    public int Rank;
    public int D0, D1, D2, D3, D4, D5, D6, D7;
    public int S0, S1, S2, S3, S4, S5, S6, S7;

    /// <summary>Sets dimension <paramref name="d"/> (0 = innermost).</summary>
    public void Set(int d, int size, int stride)
    {
        switch (d)
        {
            case 0: D0 = size; S0 = stride; break;
            case 1: D1 = size; S1 = stride; break;
            case 2: D2 = size; S2 = stride; break;
            case 3: D3 = size; S3 = stride; break;
            case 4: D4 = size; S4 = stride; break;
            case 5: D5 = size; S5 = stride; break;
            case 6: D6 = size; S6 = stride; break;
            case 7: D7 = size; S7 = stride; break;
            default: throw new ArgumentOutOfRangeException(nameof(d));
        }
    }

    /// <summary>The offset of the flat index (the outermost dimension takes the rest of the index).</summary>
    public readonly int Offset(int flat)
    {
        int q = flat, off = 0;
        if (Rank == 0) return 0;
        if (Rank == 1) return q * S0;
        off += q % D0 * S0; q /= D0;
        if (Rank == 2) return off + q * S1;
        off += q % D1 * S1; q /= D1;
        if (Rank == 3) return off + q * S2;
        off += q % D2 * S2; q /= D2;
        if (Rank == 4) return off + q * S3;
        off += q % D3 * S3; q /= D3;
        if (Rank == 5) return off + q * S4;
        off += q % D4 * S4; q /= D4;
        if (Rank == 6) return off + q * S5;
        off += q % D5 * S5; q /= D5;
        if (Rank == 7) return off + q * S6;
        off += q % D6 * S6; q /= D6;
        return off + q * S7;
    }
}

/// <summary>
/// A shape with one stride per dimension into another tensor, simplified on the host: dimensions of size 1 are dropped
/// and neighbours merged where the stride runs on (or both are 0, for broadcasting), so the kernels index few dimensions.
/// </summary>
internal sealed class ShapePlan
{
    readonly int[] _sizes, _strides, _dense; // outermost first; _dense: row-major strides of the shape itself
    readonly int _rank;

    ShapePlan(int[] sizes, int[] strides, int rank)
    {
        _sizes = sizes;
        _strides = strides;
        _rank = rank;
        _dense = new int[rank];
        int s = 1;
        for (int d = rank - 1; d >= 0; d--)
        {
            _dense[d] = s;
            s *= sizes[d];
        }
    }

    /// <summary>Drops size-1 dimensions and merges neighbours (d, d+1) where stride[d] = stride[d+1]·size[d+1] (0 = 0·size included).</summary>
    public static ShapePlan Collapse(ReadOnlySpan<int> shape, ReadOnlySpan<int> strides)
    {
        var sizes = new int[shape.Length];
        var st = new int[shape.Length];
        int rank = 0;
        for (int d = 0; d < shape.Length; d++)
        {
            if (shape[d] == 1) continue;
            if (rank > 0 && st[rank - 1] == (long)strides[d] * shape[d] && (st[rank - 1] == 0) == (strides[d] == 0))
            {
                sizes[rank - 1] *= shape[d];
                st[rank - 1] = strides[d];
                continue;
            }
            sizes[rank] = shape[d];
            st[rank] = strides[d];
            rank++;
        }
        return new ShapePlan(sizes, st, rank);
    }

    /// <summary>Whether the innermost remaining dimension has stride 0 (is repeated, or summed by a reduction).</summary>
    public bool InnermostReduced => _rank > 0 && _strides[_rank - 1] == 0;

    /// <summary>The product of the sizes of the stride-0 dimensions.</summary>
    public int ReducedCount
    {
        get
        {
            int n = 1;
            for (int d = 0; d < _rank; d++) if (_strides[d] == 0) n *= _sizes[d];
            return n;
        }
    }

    /// <summary>All dimensions with their strides (a gather: y[flat] = x[Offset(flat)]).</summary>
    public ShapeMap8 All() => Build(keep: null, useDense: false);

    /// <summary>The dimensions with a non-zero stride, each with the shape's own row-major stride (the outputs of a reduction).</summary>
    public ShapeMap8 Kept() => Build(keep: true, useDense: true);

    /// <summary>The stride-0 dimensions with the shape's own row-major stride (the summed positions of a reduction).</summary>
    public ShapeMap8 Reduced() => Build(keep: false, useDense: true);

    ShapeMap8 Build(bool? keep, bool useDense)
    {
        var map = new ShapeMap8();
        int r = 0;
        for (int d = _rank - 1; d >= 0; d--)
        {
            if (keep.HasValue && (_strides[d] != 0) != keep.Value) continue;
            if (r >= ShapeMap8.MaxRank)
                throw new ArgumentException($"The shapes have more than {ShapeMap8.MaxRank} dimensions after merging neighbours; the GPU kernels index at most {ShapeMap8.MaxRank}.");
            map.Set(r++, _sizes[d], useDense ? _dense[d] : _strides[d]);
        }
        map.Rank = r;
        return map;
    }
}

internal struct CoreLineArgs
{
    public ArrayView<float> A, B, Y;
    public int Outer, Axis, Inner, Op, Accumulate, Lanes, Tiles;
    public float Scale;
    public DeviceScalar Factor;
}

internal struct CoreMapArgs
{
    public ArrayView<float> A, B, Out;
    public int N, Op;
    public float Param, Scale;
}

internal struct CoreRowLossArgs
{
    public ArrayView<float> Logits, Targets, Probabilities, Out;
    public ArrayView<int> Labels;
    public int Rows, Classes, Mode;
    public float Smoothing, Scale;
}

internal struct CoreLabelGradArgs
{
    public ArrayView<float> P, Y;
    public ArrayView<int> Labels;
    public int Rows, Classes;
    public float Smoothing;
    public DeviceScalar DLoss;
}

internal struct CorePairGradArgs
{
    public ArrayView<float> A, B, Y, Y2;
    public int Op, N;
    public float Param;
    public DeviceScalar DLoss;
}

internal struct CoreAxisArgs
{
    public ArrayView<float> A, Y;
    public int Axis, Inner;
    public float Scale;
}

internal struct CoreGatherArgs
{
    public ArrayView<float> X, Y;
    public ShapeMap8 Map;
}

internal struct CoreReduceToArgs
{
    public ArrayView<float> X, Y;
    public ShapeMap8 Kept, Reduced;
    public int Count, Outputs, Lanes;
}

internal struct CoreFillArgs
{
    public ArrayView<float> Y;
    public DeviceScalar Value;
    public float Scale;
}

internal struct CoreCountArgs
{
    public ArrayView<float> Outputs;
    public ArrayView<int> Labels, Counter;
    public int Rows, Classes;
}

/// <summary>The device code of the core kernels (and the group reductions the other families of this folder may use).</summary>
internal static class CoreCode
{
    /// <summary>The most threads a group of these kernels has (the size of their shared arrays).</summary>
    public const int MaxGroup = 256;

    /// <summary>The most partial sums a two-pass reduction makes (the per-device partials buffer).</summary>
    public const int PartialsMaximum = 1024;

    public const int OpSoftmax = 0, OpLogSoftmax = 1, OpSoftmaxBackward = 2, OpLogSoftmaxBackward = 3, OpReduceSum = 4, OpSequenceCrossEntropyBackward = 5;
    public const int MapSum = 0, MapSquaredError = 1, MapAbsoluteError = 2, MapHuber = 3, MapBinaryCrossEntropy = 4;
    public const int RowLabels = 0, RowTargets = 1;
    public const int GradSquaredError = 0, GradAbsoluteError = 1, GradHuber = 2, GradBinaryCrossEntropy = 3;

    // ---- group reductions (every thread of the group must call them; they return the result to all): the lane
    //      reductions of GroupReduce (GpuKernels.Normalization.cs) over the whole group or over its slices ----

    public static float GroupSum(ArrayView<float> shared, float value) =>
        GroupReduce.LaneSum(shared, value, Group.IdxX, 1, Group.DimX);

    public static float GroupMax(ArrayView<float> shared, float value) =>
        GroupReduce.LaneMax(shared, value, Group.IdxX, 1, Group.DimX);

    public static int GroupSumInt(ArrayView<int> shared, int value)
    {
        int t = Group.IdxX;
        shared[t] = value;
        Group.Barrier();
        for (int s = Group.DimX >> 1; s > 0; s >>= 1)
        {
            if (t < s) shared[t] += shared[t + s];
            Group.Barrier();
        }
        int r = shared[0];
        Group.Barrier();
        return r;
    }

    /// <summary>
    /// Sums over the slices of each lane (thread t is lane t % lanes, slice t / lanes; the slices a power of two):
    /// every thread gets its lane's total. lanes = 1 is <see cref="GroupSum"/>.
    /// </summary>
    public static float SliceSum(ArrayView<float> shared, float value, int lanes) =>
        GroupReduce.LaneSum(shared, value, Group.IdxX, lanes, Group.DimX / lanes);

    /// <summary>The maximum over the slices of each lane (see <see cref="SliceSum"/>).</summary>
    public static float SliceMax(ArrayView<float> shared, float value, int lanes) =>
        GroupReduce.LaneMax(shared, value, Group.IdxX, lanes, Group.DimX / lanes);

    /// <summary>log(1 + x) for x ≥ 0, accurate for small x (Goldberg's trick).</summary>
    public static float Log1p(float x)
    {
        float u = 1f + x;
        return u == 1f ? x : XMath.Log(u) * x / (u - 1f);
    }

    /// <summary>The CPU's <see cref="ModelGen.Cpu.VMath.Sigmoid(float)"/> itself (ILGPU compiles it), so that both backends compute the same values.</summary>
    public static float Sigmoid(float x) => ModelGen.Cpu.VMath.Sigmoid(x);

    // ---- softmax-like lines and sums along an axis ----

    /// <summary>
    /// A group per tile of <c>Lanes</c> neighbouring (outer, inner) lines of the (outer × axis × inner) view: thread t is
    /// lane t % Lanes (the line) and slice t / Lanes (positions slice, slice + slices, … of the axis); each line is
    /// reduced across its slices by a tree. Lanes = 1 is a group per line.
    /// </summary>
    public static void LinesKernel(CoreLineArgs a)
    {
        var shared = SharedMemory.Allocate<float>(MaxGroup);
        int t = Group.IdxX, lanes = a.Lanes, lane = t % lanes, slice = t / lanes, slices = Group.DimX / lanes;
        int o = Grid.IdxX / a.Tiles, i = (Grid.IdxX - o * a.Tiles) * lanes + lane;
        bool active = i < a.Inner;
        int start = o * a.Axis * a.Inner + i, step = a.Inner;
        int first = active ? slice : a.Axis; // an idle lane takes part in the trees with the neutral values
        if (a.Op == OpSoftmax || a.Op == OpLogSoftmax)
        {
            float max = float.NegativeInfinity;
            for (int k = first; k < a.Axis; k += slices) max = XMath.Max(max, a.A[start + k * step]);
            max = SliceMax(shared, max, lanes);
            float sum = 0f;
            for (int k = first; k < a.Axis; k += slices) sum += XMath.Exp(a.A[start + k * step] - max);
            sum = SliceSum(shared, sum, lanes);
            if (a.Op == OpSoftmax)
            {
                float inv = 1f / sum;
                for (int k = first; k < a.Axis; k += slices)
                {
                    int idx = start + k * step;
                    a.Y[idx] = XMath.Exp(a.A[idx] - max) * inv;
                }
            }
            else
            {
                float shift = max + XMath.Log(sum);
                for (int k = first; k < a.Axis; k += slices)
                {
                    int idx = start + k * step;
                    a.Y[idx] = a.A[idx] - shift;
                }
            }
            return;
        }
        float s = 0f;
        if (a.Op == OpSoftmaxBackward)
        {
            for (int k = first; k < a.Axis; k += slices) s += a.B[start + k * step] * a.A[start + k * step];
        }
        else if (a.Op == OpLogSoftmaxBackward || a.Op == OpSequenceCrossEntropyBackward)
        {
            for (int k = first; k < a.Axis; k += slices) s += a.B[start + k * step];
        }
        else
        {
            for (int k = first; k < a.Axis; k += slices) s += a.A[start + k * step];
        }
        s = SliceSum(shared, s, lanes);
        if (a.Op == OpReduceSum)
        {
            if (slice == 0 && active)
            {
                int line = o * a.Inner + i;
                float v = a.Scale * s;
                a.Y[line] = a.Accumulate != 0 ? a.Y[line] + v : v;
            }
            return;
        }
        float scale = a.Op == OpSequenceCrossEntropyBackward ? a.Factor.Get() / a.Outer : 0f;
        for (int k = first; k < a.Axis; k += slices)
        {
            int idx = start + k * step;
            a.Y[idx] = LineOutput(a.Op, a.A[idx], a.B[idx], s, scale);
        }
    }

    /// <summary>The output of a backward line op at one position, given the line's reduction s.</summary>
    static float LineOutput(int op, float a, float b, float s, float scale)
    {
        if (op == OpSoftmaxBackward) return a * (b - s);                 // y ⊙ (dy − Σ dy ⊙ y)
        if (op == OpLogSoftmaxBackward) return b - XMath.Exp(a) * s;     // dy − e^y · Σ dy
        return (a * s - b) * scale;                                      // (p · Σ t − t) · dLoss / rows
    }

    // ---- whole-buffer reductions ----

    /// <summary>Out[group] = Scale · Σ term(i) over the grid-strided share of the group (a thread's share in order, then a tree).</summary>
    public static void MapReduceKernel(CoreMapArgs a)
    {
        var shared = SharedMemory.Allocate<float>(MaxGroup);
        int t = Group.IdxX, g = Grid.IdxX;
        long stride = (long)Grid.DimX * Group.DimX;
        float sum = 0f;
        for (long i = (long)g * Group.DimX + t; i < a.N; i += stride) sum += Term(a, (int)i);
        sum = GroupSum(shared, sum);
        if (t == 0) a.Out[g] = sum * a.Scale;
    }

    static float Term(CoreMapArgs a, int i)
    {
        if (a.Op == MapSum) return a.A[i];
        float x = a.A[i], y = a.B[i];
        if (a.Op == MapBinaryCrossEntropy)
            return XMath.Max(x, 0f) - x * y + Log1p(XMath.Exp(-XMath.Abs(x)));
        float d = x - y;
        if (a.Op == MapSquaredError) return d * d;
        float ad = XMath.Abs(d);
        if (a.Op == MapAbsoluteError) return ad;
        float delta = a.Param;
        return ad <= delta ? 0.5f * d * d : delta * (ad - 0.5f * delta);
    }

    // ---- softmax losses over rows ----

    /// <summary>Rows g, g + G, … of the logits: probabilities written, the rows' losses added in order by the first thread.</summary>
    public static void RowLossKernel(CoreRowLossArgs a)
    {
        var shared = SharedMemory.Allocate<float>(MaxGroup);
        int t = Group.IdxX, threads = Group.DimX, c = a.Classes;
        float total = 0f;
        for (int r = Grid.IdxX; r < a.Rows; r += Grid.DimX)
        {
            int start = r * c;
            float max = float.NegativeInfinity;
            for (int j = t; j < c; j += threads) max = XMath.Max(max, a.Logits[start + j]);
            max = GroupMax(shared, max);
            float sum = 0f;
            for (int j = t; j < c; j += threads) sum += XMath.Exp(a.Logits[start + j] - max);
            sum = GroupSum(shared, sum);
            float inv = 1f / sum, logSum = XMath.Log(sum);
            for (int j = t; j < c; j += threads) a.Probabilities[start + j] = XMath.Exp(a.Logits[start + j] - max) * inv;
            float term;
            if (a.Mode == RowTargets)
            {
                // Σ_c t_c · (log Σ e^x − x_c), the positions with t_c = 0 skipped (as the CPU does).
                float shift = max + logSum, part = 0f;
                for (int j = t; j < c; j += threads)
                {
                    float tc = a.Targets[start + j];
                    if (tc != 0f) part += tc * (shift - a.Logits[start + j]);
                }
                term = GroupSum(shared, part);
            }
            else
            {
                float all = 0f;
                if (a.Smoothing != 0f)
                {
                    // Σ_j (log Σ e^x − x_j): every term is ≥ 0, so the sum does not cancel.
                    float shift = max + logSum, part = 0f;
                    for (int j = t; j < c; j += threads) part += shift - a.Logits[start + j];
                    all = GroupSum(shared, part);
                }
                term = 0f;
                if (t == 0)
                {
                    int label = a.Labels[r];
                    if (label < 0 || label >= c)
                        term = float.NaN;
                    else if (a.Smoothing == 0f)
                        term = logSum - (a.Logits[start + label] - max); // exact even when p[label] underflows
                    else
                        term = (1f - a.Smoothing) * (max + logSum - a.Logits[start + label]) + a.Smoothing / c * all;
                }
            }
            if (t == 0) total += term;
        }
        if (t == 0) a.Out[Grid.IdxX] = total * a.Scale;
    }

    /// <summary>dLogits = (p − q) · dLoss / rows, q = (1 − ε)·onehot(label) + ε/classes (ε = 0: softmax cross-entropy).</summary>
    public static void LabelGradientKernel(Index1D index, CoreLabelGradArgs a)
    {
        int r = index / a.Classes, j = index - r * a.Classes;
        float scale = a.DLoss.Get() / a.Rows;
        int label = a.Labels[r];
        float d = a.P[index] * scale;
        if (a.Smoothing != 0f) d -= a.Smoothing / a.Classes * scale;
        if (label < 0 || label >= a.Classes) d = float.NaN;
        else if (j == label) d -= (1f - a.Smoothing) * scale;
        a.Y[index] = d;
    }

    /// <summary>The elementwise gradients of the pointwise losses (each a mean over N values, times dLoss).</summary>
    public static void PairGradientKernel(Index1D i, CorePairGradArgs a)
    {
        float x = a.A[i], y = a.B[i];
        if (a.Op == GradSquaredError)
        {
            float scale2 = 2f * a.DLoss.Get() / a.N;
            a.Y[i] = (x - y) * scale2;
            return;
        }
        float scale = a.DLoss.Get() / (a.N > 1 ? a.N : 1);
        if (a.Op == GradAbsoluteError)
        {
            float d = x - y;
            a.Y[i] = (d > 0f ? 1f : d < 0f ? -1f : 0f) * scale;
        }
        else if (a.Op == GradHuber)
        {
            a.Y[i] = XMath.Min(XMath.Max(x - y, -a.Param), a.Param) * scale;
        }
        else
        {
            if (a.Y.Length > 0) a.Y[i] = (Sigmoid(x) - y) * scale;
            if (a.Y2.Length > 0) a.Y2[i] = -x * scale;
        }
    }

    // ---- broadcasting, copies ----

    /// <summary>dx[o, a, i] = scale · dy[o, i].</summary>
    public static void BroadcastAxisKernel(Index1D index, CoreAxisArgs a)
    {
        int block = a.Axis * a.Inner;
        int o = index / block, i = (index - o * block) % a.Inner;
        a.Y[index] = a.Scale * a.A[o * a.Inner + i];
    }

    public static void CopyKernel(Index1D index, CoreAxisArgs a) => a.Y[index] = a.A[index];

    public static void GatherKernel(Index1D index, CoreGatherArgs a) => a.Y[index] = a.X[a.Map.Offset(index)];

    /// <summary>
    /// A group per tile of <c>Lanes</c> neighbouring outputs: lane t % Lanes takes an output, slice t / Lanes the summed
    /// positions slice, slice + slices, …; a tree across the slices. Lanes = 1 is a group per output.
    /// </summary>
    public static void ReduceToKernel(CoreReduceToArgs a)
    {
        var shared = SharedMemory.Allocate<float>(MaxGroup);
        int t = Group.IdxX, lanes = a.Lanes, lane = t % lanes, slice = t / lanes, slices = Group.DimX / lanes;
        int y = Grid.IdxX * lanes + lane;
        bool active = y < a.Outputs;
        int start = active ? a.Kept.Offset(y) : 0;
        float sum = 0f;
        for (int r = active ? slice : a.Count; r < a.Count; r += slices) sum += a.X[start + a.Reduced.Offset(r)];
        sum = SliceSum(shared, sum, lanes);
        if (slice == 0 && active) a.Y[y] = sum;
    }

    public static void FillKernel(Index1D index, CoreFillArgs a) => a.Y[index] = a.Value.Get() * a.Scale;

    public static void ScalarAddKernel(Index1D index, CoreFillArgs a) => a.Y[0] += a.Value.Get();

    // ---- accuracy ----

    /// <summary>A row per thread (few classes): the CPU's scan; the group's hits summed, one atomic add per group.</summary>
    public static void CountByThreadKernel(CoreCountArgs a)
    {
        var shared = SharedMemory.Allocate<int>(MaxGroup);
        int r = Grid.GlobalIndex.X, hit = 0;
        if (r < a.Rows)
        {
            int start = r * a.Classes, best = 0;
            float bestValue = a.Outputs[start];
            for (int j = 1; j < a.Classes; j++)
            {
                float v = a.Outputs[start + j];
                if (v > bestValue)
                {
                    bestValue = v;
                    best = j;
                }
            }
            hit = best == a.Labels[r] ? 1 : 0;
        }
        int count = GroupSumInt(shared, hit);
        if (Group.IdxX == 0 && count != 0) Atomic.Add(ref a.Counter[0], count);
    }

    /// <summary>
    /// Rows g, g + G, … per group (many classes): each thread scans its share, the group keeps the largest value with the
    /// smallest index (NaN skipped), a NaN in column 0 keeps column 0; one atomic add per group.
    /// </summary>
    public static void CountByGroupKernel(CoreCountArgs a)
    {
        var values = SharedMemory.Allocate<float>(MaxGroup);
        var indices = SharedMemory.Allocate<int>(MaxGroup);
        int t = Group.IdxX, threads = Group.DimX, count = 0;
        for (int r = Grid.IdxX; r < a.Rows; r += Grid.DimX)
        {
            int start = r * a.Classes, best = int.MaxValue;
            float bestValue = float.NegativeInfinity;
            for (int j = t; j < a.Classes; j += threads)
            {
                float v = a.Outputs[start + j];
                if (v > bestValue || (best == int.MaxValue && v == bestValue))
                {
                    bestValue = v;
                    best = j;
                }
            }
            values[t] = bestValue;
            indices[t] = best;
            Group.Barrier();
            for (int s = threads >> 1; s > 0; s >>= 1)
            {
                if (t < s)
                {
                    float ov = values[t + s];
                    int oi = indices[t + s], bi = indices[t];
                    if (oi != int.MaxValue && (bi == int.MaxValue || ov > values[t] || (ov == values[t] && oi < bi)))
                    {
                        values[t] = ov;
                        indices[t] = oi;
                    }
                }
                Group.Barrier();
            }
            if (t == 0)
            {
                int arg = float.IsNaN(a.Outputs[start]) ? 0 : indices[0];
                if (arg == a.Labels[r]) count++;
            }
            Group.Barrier();
        }
        if (t == 0 && count != 0) Atomic.Add(ref a.Counter[0], count);
    }
}
