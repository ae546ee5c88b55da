using System;
using ILGPU;
using ILGPU.Runtime;

namespace ModelGen.Gpu;

// The losses of Runtime/Cpu/Kernels.Losses.cs and the per-position cross-entropy of Runtime/Cpu/Kernels.Sequence.cs.
// Every loss is a mean; the GPU sums in float with deterministic trees (two passes, see RunMapReduce / RunRowLoss in
// GpuKernels.Core.cs) where the CPU sums in double, so the values agree to ~1e-6 relative, not bit for bit.
public static partial class GpuKernels
{
    /// <summary>result[0] = mean over all elements of max(x, 0) − x·t + log(1 + e^−|x|): binary cross-entropy of sigmoid(x); 0 for no elements.</summary>
    /// <param name="device">The device whose stream runs the kernel.</param>
    /// <param name="logits">The logits.</param>
    /// <param name="targets">The targets (probabilities), as many as the logits.</param>
    /// <param name="result">Receives the mean loss in element 0.</param>
    public static void BinaryCrossEntropyWithLogits(GpuDevice device, ArrayView<float> logits, ArrayView<float> targets, ArrayView<float> result)
    {
        CoreChecks.Pair(logits.Length, targets.Length, nameof(targets));
        CoreChecks.Result(result.Length);
        int n = (int)logits.Length;
        CoreLaunch.RunMapReduce(device, CoreCode.MapBinaryCrossEntropy, logits, targets, n, 0f, n == 0 ? 0f : 1f / n, result);
    }

    /// <summary>dlogits = (sigmoid(x) − t)·dLoss/N; dtargets = −x·dLoss/N. Either output may be an empty view to skip it.</summary>
    /// <param name="device">The device whose stream runs the kernel.</param>
    /// <param name="logits">The logits.</param>
    /// <param name="targets">The targets.</param>
    /// <param name="dLoss">The gradient with respect to the loss.</param>
    /// <param name="dLogits">Receives the logits' gradient, or empty.</param>
    /// <param name="dTargets">Receives the targets' gradient, or empty.</param>
    public static void BinaryCrossEntropyWithLogitsBackward(GpuDevice device, ArrayView<float> logits, ArrayView<float> targets, DeviceScalar dLoss, ArrayView<float> dLogits, ArrayView<float> dTargets)
    {
        CoreChecks.Pair(logits.Length, targets.Length, nameof(targets));
        int n = (int)logits.Length;
        if (dLogits.Length > 0) CoreChecks.Length(dLogits.Length, n, nameof(dLogits));
        if (dTargets.Length > 0) CoreChecks.Length(dTargets.Length, n, nameof(dTargets));
        if (n == 0 || (dLogits.Length == 0 && dTargets.Length == 0)) return;
        CoreLaunch.Core(device).PairGradient(device.Stream, n,
            new CorePairGradArgs { A = logits, B = targets, Y = dLogits, Y2 = dTargets, Op = CoreCode.GradBinaryCrossEntropy, N = n, DLoss = dLoss });
    }

    /// <summary>result[0] = mean over all elements of |p − t|; 0 for no elements.</summary>
    /// <param name="device">The device whose stream runs the kernel.</param>
    /// <param name="prediction">The predictions.</param>
    /// <param name="target">The targets, as many as the predictions.</param>
    /// <param name="result">Receives the mean absolute error in element 0.</param>
    public static void L1Loss(GpuDevice device, ArrayView<float> prediction, ArrayView<float> target, ArrayView<float> result)
    {
        CoreChecks.Pair(prediction.Length, target.Length, nameof(target));
        CoreChecks.Result(result.Length);
        int n = (int)prediction.Length;
        CoreLaunch.RunMapReduce(device, CoreCode.MapAbsoluteError, prediction, target, n, 0f, n == 0 ? 0f : 1f / n, result);
    }

    /// <summary>dp = sign(p − t)·dLoss/N (0 where p = t).</summary>
    /// <param name="device">The device whose stream runs the kernel.</param>
    /// <param name="prediction">The predictions.</param>
    /// <param name="target">The targets.</param>
    /// <param name="dLoss">The gradient with respect to the loss.</param>
    /// <param name="dPrediction">Receives the predictions' gradient (the targets' is its negation).</param>
    public static void L1LossBackward(GpuDevice device, ArrayView<float> prediction, ArrayView<float> target, DeviceScalar dLoss, ArrayView<float> dPrediction)
    {
        CoreChecks.Pair(prediction.Length, target.Length, nameof(target));
        CoreChecks.Length(dPrediction.Length, prediction.Length, nameof(dPrediction));
        int n = (int)prediction.Length;
        if (n == 0) return;
        CoreLaunch.Core(device).PairGradient(device.Stream, n,
            new CorePairGradArgs { A = prediction, B = target, Y = dPrediction, Op = CoreCode.GradAbsoluteError, N = n, DLoss = dLoss });
    }

    /// <summary>result[0] = mean over all elements of the Huber loss of d = p − t: ½d² where |d| ≤ delta, delta·(|d| − ½delta) beyond; 0 for no elements.</summary>
    /// <param name="device">The device whose stream runs the kernel.</param>
    /// <param name="prediction">The predictions.</param>
    /// <param name="target">The targets, as many as the predictions.</param>
    /// <param name="delta">Where the loss turns from quadratic to linear (positive).</param>
    /// <param name="result">Receives the mean Huber loss in element 0.</param>
    public static void HuberLoss(GpuDevice device, ArrayView<float> prediction, ArrayView<float> target, float delta, ArrayView<float> result)
    {
        CoreChecks.Pair(prediction.Length, target.Length, nameof(target));
        CoreChecks.Result(result.Length);
        int n = (int)prediction.Length;
        CoreLaunch.RunMapReduce(device, CoreCode.MapHuber, prediction, target, n, delta, n == 0 ? 0f : 1f / n, result);
    }

    /// <summary>dp = clamp(p − t, −delta, delta)·dLoss/N.</summary>
    /// <param name="device">The device whose stream runs the kernel.</param>
    /// <param name="prediction">The predictions.</param>
    /// <param name="target">The targets.</param>
    /// <param name="delta">The Huber threshold.</param>
    /// <param name="dLoss">The gradient with respect to the loss.</param>
    /// <param name="dPrediction">Receives the predictions' gradient (the targets' is its negation).</param>
    public static void HuberLossBackward(GpuDevice device, ArrayView<float> prediction, ArrayView<float> target, float delta, DeviceScalar dLoss, ArrayView<float> dPrediction)
    {
        CoreChecks.Pair(prediction.Length, target.Length, nameof(target));
        CoreChecks.Length(dPrediction.Length, prediction.Length, nameof(dPrediction));
        int n = (int)prediction.Length;
        if (n == 0) return;
        CoreLaunch.Core(device).PairGradient(device.Stream, n,
            new CorePairGradArgs { A = prediction, B = target, Y = dPrediction, Op = CoreCode.GradHuber, N = n, Param = delta, DLoss = dLoss });
    }

    /// <summary>
    /// result[0] = mean over the rows of the cross-entropy of softmax(logits) against (1 − ε)·onehot(label) + ε/classes
    /// (ε = 0 is <see cref="SoftmaxCrossEntropy"/>); writes the probabilities. A label outside [0, classes) makes the loss NaN; rows = 0 gives 0.
    /// </summary>
    /// <param name="device">The device whose stream runs the kernel.</param>
    /// <param name="logits">rows × classes logits.</param>
    /// <param name="labels">rows class indices.</param>
    /// <param name="rows">The batch size.</param>
    /// <param name="classes">The number of classes.</param>
    /// <param name="smoothing">ε in [0, 1].</param>
    /// <param name="probabilities">Receives softmax(logits), rows × classes.</param>
    /// <param name="result">Receives the mean loss in element 0.</param>
    public static void CrossEntropy(GpuDevice device, ArrayView<float> logits, ArrayView<int> labels, int rows, int classes, float smoothing, ArrayView<float> probabilities, ArrayView<float> result)
    {
        CoreChecks.Losses(logits.Length, labels.Length, rows, classes, nameof(logits));
        CoreChecks.Length(probabilities.Length, (long)rows * classes, nameof(probabilities));
        CoreChecks.Result(result.Length);
        CoreLaunch.RunRowLoss(device, CoreCode.RowLabels, logits, labels, default, probabilities, rows, classes, smoothing, result);
    }

    /// <summary>dlogits = (p − q)·dLoss/rows with q = (1 − ε)·onehot(label) + ε/classes (a row with an invalid label gets NaN).</summary>
    /// <param name="device">The device whose stream runs the kernel.</param>
    /// <param name="probabilities">The probabilities written by the forward call.</param>
    /// <param name="labels">rows class indices.</param>
    /// <param name="rows">The batch size.</param>
    /// <param name="classes">The number of classes.</param>
    /// <param name="smoothing">ε.</param>
    /// <param name="dLoss">The gradient with respect to the loss.</param>
    /// <param name="dLogits">Receives the logits' gradient (may be the probabilities view).</param>
    public static void CrossEntropyBackward(GpuDevice device, ArrayView<float> probabilities, ArrayView<int> labels, int rows, int classes, float smoothing, DeviceScalar dLoss, ArrayView<float> dLogits)
    {
        CoreChecks.Losses(probabilities.Length, labels.Length, rows, classes, nameof(probabilities));
        CoreChecks.Length(dLogits.Length, (long)rows * classes, nameof(dLogits));
        if (rows == 0) return;
        CoreLaunch.Core(device).LabelGradient(device.Stream, rows * classes,
            new CoreLabelGradArgs { P = probabilities, Labels = labels, Y = dLogits, Rows = rows, Classes = classes, Smoothing = smoothing, DLoss = dLoss });
    }

    /// <summary>
    /// result[0] = mean over rows of −Σ_c t_c·log softmax(logits)_c (targets: a distribution per row, one-hot for class
    /// ids, rows × classes floats as on the CPU; positions with t_c = 0 are skipped); writes the softmax. rows = 0 gives
    /// NaN (the CPU's 0/0).
    /// </summary>
    /// <param name="device">The device whose stream runs the kernel.</param>
    /// <param name="logits">rows × classes.</param>
    /// <param name="targets">rows × classes.</param>
    /// <param name="probabilities">Receives the softmax, rows × classes.</param>
    /// <param name="rows">The number of rows.</param>
    /// <param name="classes">The number of classes.</param>
    /// <param name="result">Receives the mean loss in element 0.</param>
    public static void SequenceCrossEntropy(GpuDevice device, ArrayView<float> logits, ArrayView<float> targets, ArrayView<float> probabilities, int rows, int classes, ArrayView<float> result)
    {
        CoreChecks.SequenceRows(rows, classes);
        long total = (long)rows * classes;
        CoreChecks.Length(logits.Length, total, nameof(logits));
        CoreChecks.Length(targets.Length, total, nameof(targets));
        CoreChecks.Length(probabilities.Length, total, nameof(probabilities));
        CoreChecks.Result(result.Length);
        CoreLaunch.RunRowLoss(device, CoreCode.RowTargets, logits, default, targets, probabilities, rows, classes, 0f, result);
    }

    /// <summary>dLogits = dLoss·(probabilities·Σ_c t_c − t)/rows (overwritten; a group per row sums the targets).</summary>
    /// <param name="device">The device whose stream runs the kernel.</param>
    /// <param name="probabilities">From <see cref="SequenceCrossEntropy"/>.</param>
    /// <param name="targets">rows × classes.</param>
    /// <param name="dLoss">The loss gradient.</param>
    /// <param name="dLogits">The logits gradient.</param>
    /// <param name="rows">The number of rows.</param>
    /// <param name="classes">The number of classes.</param>
    public static void SequenceCrossEntropyBackward(GpuDevice device, ArrayView<float> probabilities, ArrayView<float> targets, DeviceScalar dLoss, ArrayView<float> dLogits, int rows, int classes)
    {
        CoreChecks.SequenceRows(rows, classes);
        long total = (long)rows * classes;
        CoreChecks.Length(probabilities.Length, total, nameof(probabilities));
        CoreChecks.Length(targets.Length, total, nameof(targets));
        CoreChecks.Length(dLogits.Length, total, nameof(dLogits));
        if (total == 0) return;
        CoreLaunch.RunLines(device, CoreCode.OpSequenceCrossEntropyBackward, probabilities, targets, dLogits, rows, classes, 1, 1f, false, dLoss);
    }
}
