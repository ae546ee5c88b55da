using System;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ModelGen.Cpu;

// Losses beyond softmax cross-entropy and mean squared error. Sums are accumulated in double; every loss is a
// mean (over all elements, or over the rows for the cross-entropy), as PyTorch's default reduction.
public static partial class Kernels
{
    /// <summary>Mean over all elements of max(x, 0) − x·t + log(1 + e^−|x|): binary cross-entropy of sigmoid(x), stable for any x.</summary>
    /// <param name="logits">The logits.</param>
    /// <param name="targets">The targets (probabilities), as many as the logits.</param>
    /// <returns>The mean loss.</returns>
    public static float BinaryCrossEntropyWithLogits(ReadOnlySpan<float> logits, ReadOnlySpan<float> targets)
    {
        CheckPair(logits.Length, targets.Length, nameof(targets));
        if (logits.Length == 0) return 0f;
        double sum = 0;
        for (int i = 0; i < logits.Length; i++)
        {
            double x = logits[i];
            sum += Math.Max(x, 0) - x * targets[i] + Math.Log(1 + Math.Exp(-Math.Abs(x)));
        }
        return (float)(sum / logits.Length);
    }

    /// <summary>dlogits = (sigmoid(x) − t)·dLoss/N; dtargets = −x·dLoss/N. Either output may be empty to skip it.</summary>
    /// <param name="logits">The logits.</param>
    /// <param name="targets">The targets.</param>
    /// <param name="dLoss">The gradient with respect to the loss.</param>
    /// <param name="dLogits">Receives the logits' gradient, or empty.</param>
    /// <param name="dTargets">Receives the targets' gradient, or empty.</param>
    public static void BinaryCrossEntropyWithLogitsBackward(ReadOnlySpan<float> logits, ReadOnlySpan<float> targets, float dLoss, Span<float> dLogits, Span<float> dTargets)
    {
        CheckPair(logits.Length, targets.Length, nameof(targets));
        float scale = dLoss / Math.Max(logits.Length, 1);
        for (int i = 0; i < logits.Length; i++)
        {
            if (!dLogits.IsEmpty) dLogits[i] = (VMath.Sigmoid(logits[i]) - targets[i]) * scale;
            if (!dTargets.IsEmpty) dTargets[i] = -logits[i] * scale;
        }
    }

    /// <summary>Mean over all elements of |p − t|.</summary>
    /// <param name="prediction">The predictions.</param>
    /// <param name="target">The targets, as many as the predictions.</param>
    /// <returns>The mean absolute error.</returns>
    public static float L1Loss(ReadOnlySpan<float> prediction, ReadOnlySpan<float> target)
    {
        CheckPair(prediction.Length, target.Length, nameof(target));
        if (prediction.Length == 0) return 0f;
        double sum = 0;
        for (int i = 0; i < prediction.Length; i++) sum += Math.Abs((double)prediction[i] - target[i]);
        return (float)(sum / prediction.Length);
    }

    /// <summary>dp = sign(p − t)·dLoss/N (0 where p = t).</summary>
    /// <param name="prediction">The predictions.</param>
    /// <param name="target">The targets.</param>
    /// <param name="dLoss">The gradient with respect to the loss.</param>
    /// <param name="dPrediction">Receives the predictions' gradient (the targets' is its negation).</param>
    public static void L1LossBackward(ReadOnlySpan<float> prediction, ReadOnlySpan<float> target, float dLoss, Span<float> dPrediction)
    {
        CheckPair(prediction.Length, target.Length, nameof(target));
        CheckLength(dPrediction.Length, prediction.Length, nameof(dPrediction));
        float scale = dLoss / Math.Max(prediction.Length, 1);
        for (int i = 0; i < prediction.Length; i++) dPrediction[i] = MathF.Sign(prediction[i] - target[i]) * scale;
    }

    /// <summary>Mean over all elements of the Huber loss of d = p − t: ½d² where |d| ≤ delta, delta·(|d| − ½delta) beyond.</summary>
    /// <param name="prediction">The predictions.</param>
    /// <param name="target">The targets, as many as the predictions.</param>
    /// <param name="delta">Where the loss turns from quadratic to linear (positive).</param>
    /// <returns>The mean Huber loss.</returns>
    public static float HuberLoss(ReadOnlySpan<float> prediction, ReadOnlySpan<float> target, float delta)
    {
        CheckPair(prediction.Length, target.Length, nameof(target));
        if (prediction.Length == 0) return 0f;
        double sum = 0;
        for (int i = 0; i < prediction.Length; i++)
        {
            double d = (double)prediction[i] - target[i], a = Math.Abs(d);
            sum += a <= delta ? 0.5 * d * d : delta * (a - 0.5 * delta);
        }
        return (float)(sum / prediction.Length);
    }

    /// <summary>dp = clamp(p − t, −delta, delta)·dLoss/N.</summary>
    /// <param name="prediction">The predictions.</param>
    /// <param name="target">The targets.</param>
    /// <param name="delta">The Huber threshold.</param>
    /// <param name="dLoss">The gradient with respect to the loss.</param>
    /// <param name="dPrediction">Receives the predictions' gradient (the targets' is its negation).</param>
    public static void HuberLossBackward(ReadOnlySpan<float> prediction, ReadOnlySpan<float> target, float delta, float dLoss, Span<float> dPrediction)
    {
        CheckPair(prediction.Length, target.Length, nameof(target));
        CheckLength(dPrediction.Length, prediction.Length, nameof(dPrediction));
        float scale = dLoss / Math.Max(prediction.Length, 1);
        for (int i = 0; i < prediction.Length; i++) dPrediction[i] = Math.Clamp(prediction[i] - target[i], -delta, delta) * scale;
    }

    /// <summary>
    /// Mean over the rows of the cross-entropy of softmax(logits) against (1 − ε)·onehot(label) + ε/classes
    /// (PyTorch's label smoothing; ε = 0 is <see cref="SoftmaxCrossEntropy"/>). Writes the probabilities.
    /// </summary>
    /// <param name="logits">rows × classes logits.</param>
    /// <param name="labels">rows class indices.</param>
    /// <param name="rows">The batch size.</param>
    /// <param name="classes">The number of classes.</param>
    /// <param name="smoothing">ε in [0, 1].</param>
    /// <param name="probabilities">Receives softmax(logits), rows × classes.</param>
    /// <returns>The mean loss.</returns>
    public static float CrossEntropy(ReadOnlySpan<float> logits, ReadOnlySpan<int> labels, int rows, int classes, float smoothing, Span<float> probabilities)
    {
        CheckLosses(logits.Length, labels, rows, classes, nameof(logits));
        CheckLength(probabilities.Length, (long)rows * classes, nameof(probabilities));
        if (rows == 0) return 0f;
        double total = 0;
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> row = logits.Slice(r * classes, classes);
            Span<float> p = probabilities.Slice(r * classes, classes);
            float max = Max(row);
            float sum = ExpShifted(row, p, max);
            ScaleInPlace(p, 1f / sum);
            double logSum = Math.Log(sum) + max, all = 0;
            for (int j = 0; j < classes; j++) all += logSum - row[j];
            total += (1.0 - smoothing) * (logSum - row[labels[r]]) + smoothing / classes * all;
        }
        return (float)(total / rows);
    }

    /// <summary>dlogits = (p − q)·dLoss/rows with q = (1 − ε)·onehot(label) + ε/classes.</summary>
    /// <param name="probabilities">The probabilities written by the forward call.</param>
    /// <param name="labels">rows class indices.</param>
    /// <param name="rows">The batch size.</param>
    /// <param name="classes">The number of classes.</param>
    /// <param name="smoothing">ε.</param>
    /// <param name="dLoss">The gradient with respect to the loss.</param>
    /// <param name="dLogits">Receives the logits' gradient (may be the probabilities span).</param>
    public static void CrossEntropyBackward(ReadOnlySpan<float> probabilities, ReadOnlySpan<int> labels, int rows, int classes, float smoothing, float dLoss, Span<float> dLogits)
    {
        CheckLosses(probabilities.Length, labels, rows, classes, nameof(probabilities));
        CheckLength(dLogits.Length, (long)rows * classes, nameof(dLogits));
        if (rows == 0) return;
        float scale = dLoss / rows, off = smoothing / classes * scale;
        for (int r = 0; r < rows; r++)
        {
            Span<float> d = dLogits.Slice(r * classes, classes);
            ScaleCopy(probabilities.Slice(r * classes, classes), d, scale);
            for (int j = 0; j < classes; j++) d[j] -= off;
            d[labels[r]] -= (1f - smoothing) * scale;
        }
    }

    /// <summary>
    /// <see cref="SoftmaxCrossEntropy"/> for rows of at most 16 classes (a classifier's logits), AVX-512: each row is
    /// one masked load (the lanes past the classes read as −∞, whose exponential is 0), so max, exp, sum and scale are
    /// a few instructions a row, and one masked store writes the probabilities. The loss needs Σ log(sum of row r):
    /// the sums (each in [1, 16]) are multiplied in double and the logarithm taken once per 64 rows (a product of 64
    /// stays below 2^256), which saved a Math.Log per row (the batch-64 loss of a 10-class MLP, warmed up: 5.1 → 1.5 µs).
    /// </summary>
    static unsafe float FewClassSoftmaxCrossEntropy(ReadOnlySpan<float> logits, ReadOnlySpan<int> labels, int rows, int classes, Span<float> probabilities)
    {
        Vector512<float> mask = Vector512.LessThan(Vector512.Create(0f, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), Vector512.Create((float)classes));
        Vector512<float> pad = Vector512.Create(float.NegativeInfinity);
        double logTotal = 0, product = 1, picked = 0;
        fixed (float* px = logits)
        fixed (float* pp = probabilities)
        {
            float* x = px, p = pp;
            for (int r = 0; r < rows; r++, x += classes, p += classes)
            {
                Vector512<float> v = Avx512F.MaskLoad(x, mask, pad);
                Vector256<float> m8 = Vector256.Max(v.GetLower(), v.GetUpper());
                Vector128<float> m4 = Vector128.Max(m8.GetLower(), m8.GetUpper());
                m4 = Vector128.Max(m4, Vector128.Shuffle(m4, Vector128.Create(2, 3, 0, 1)));
                m4 = Vector128.Max(m4, Vector128.Shuffle(m4, Vector128.Create(1, 0, 3, 2)));
                float max = m4.ToScalar();
                // Masked-off lanes are −∞ − max = −∞, so their exponential is exactly 0.
                Vector512<float> e = Vector512.Exp(v - Vector512.Create(max));
                float sum = Vector512.Sum(e);
                Avx512F.MaskStore(p, mask, e * Vector512.Create(1f / sum));
                // −log p[label] = log Σ e^(x − max) − (x[label] − max), exact even when p[label] underflows.
                picked += x[labels[r]] - max;
                product *= sum;
                if ((r & 63) == 63)
                {
                    logTotal += Math.Log(product);
                    product = 1;
                }
            }
        }
        return (float)((logTotal + Math.Log(product) - picked) / rows);
    }

    static void CheckPair(int a, int b, string name)
    {
        if (a != b) throw new ArgumentException($"The inputs have {a} and {b} values; they must have as many.", name);
    }
}
