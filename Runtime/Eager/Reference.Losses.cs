using System;
using System.Numerics;

namespace ModelGen;

public static partial class Reference
{
    /// <summary>
    /// Mean over all elements of the binary cross-entropy of sigmoid(logits) against targets, in the stable form
    /// max(x, 0) − x·t + log(1 + e^−|x|).
    /// </summary>
    public static T BinaryCrossEntropyWithLogits<T>(ReadOnlySpan<T> logits, ReadOnlySpan<T> targets) where T : IFloatingPointIeee754<T>
    {
        if (logits.Length == 0) return T.Zero;
        T sum = T.Zero;
        for (int i = 0; i < logits.Length; i++)
        {
            T x = logits[i];
            sum += T.Max(x, T.Zero) - x * targets[i] + T.Log(T.One + T.Exp(-T.Abs(x)));
        }
        return sum / T.CreateChecked(logits.Length);
    }

    /// <summary>dlogits = (sigmoid(x) − t)·dLoss/N, dtargets = −x·dLoss/N. Empty outputs are skipped.</summary>
    public static void BinaryCrossEntropyWithLogitsBackward<T>(ReadOnlySpan<T> logits, ReadOnlySpan<T> targets, T dLoss, Span<T> dLogits, Span<T> dTargets)
        where T : IFloatingPointIeee754<T>
    {
        T scale = dLoss / T.CreateChecked(Math.Max(logits.Length, 1));
        for (int i = 0; i < logits.Length; i++)
        {
            if (!dLogits.IsEmpty) dLogits[i] = (T.One / (T.One + T.Exp(-logits[i])) - targets[i]) * scale;
            if (!dTargets.IsEmpty) dTargets[i] = -logits[i] * scale;
        }
    }

    /// <summary>Mean over all elements of |p − t|.</summary>
    public static T L1Loss<T>(ReadOnlySpan<T> prediction, ReadOnlySpan<T> target) where T : IFloatingPointIeee754<T>
    {
        if (prediction.Length == 0) return T.Zero;
        T sum = T.Zero;
        for (int i = 0; i < prediction.Length; i++) sum += T.Abs(prediction[i] - target[i]);
        return sum / T.CreateChecked(prediction.Length);
    }

    /// <summary>dp = sign(p − t)·dLoss/N (sign(0) = 0, as PyTorch), dt = −dp. Empty outputs are skipped.</summary>
    public static void L1LossBackward<T>(ReadOnlySpan<T> prediction, ReadOnlySpan<T> target, T dLoss, Span<T> dPrediction, Span<T> dTarget)
        where T : IFloatingPointIeee754<T>
    {
        T scale = dLoss / T.CreateChecked(Math.Max(prediction.Length, 1));
        for (int i = 0; i < prediction.Length; i++)
        {
            T g = T.CreateChecked(T.Sign(prediction[i] - target[i])) * scale;
            if (!dPrediction.IsEmpty) dPrediction[i] = g;
            if (!dTarget.IsEmpty) dTarget[i] = -g;
        }
    }

    /// <summary>Mean over all elements of the Huber loss: ½d² where |d| ≤ delta, delta·(|d| − ½delta) beyond (d = p − t).</summary>
    public static T HuberLoss<T>(ReadOnlySpan<T> prediction, ReadOnlySpan<T> target, T delta) where T : IFloatingPointIeee754<T>
    {
        if (prediction.Length == 0) return T.Zero;
        T half = T.CreateChecked(0.5), sum = T.Zero;
        for (int i = 0; i < prediction.Length; i++)
        {
            T d = prediction[i] - target[i], a = T.Abs(d);
            sum += a <= delta ? half * d * d : delta * (a - half * delta);
        }
        return sum / T.CreateChecked(prediction.Length);
    }

    /// <summary>dp = clamp(p − t, −delta, delta)·dLoss/N, dt = −dp. Empty outputs are skipped.</summary>
    public static void HuberLossBackward<T>(ReadOnlySpan<T> prediction, ReadOnlySpan<T> target, T delta, T dLoss, Span<T> dPrediction, Span<T> dTarget)
        where T : IFloatingPointIeee754<T>
    {
        T scale = dLoss / T.CreateChecked(Math.Max(prediction.Length, 1));
        for (int i = 0; i < prediction.Length; i++)
        {
            T g = T.Clamp(prediction[i] - target[i], -delta, delta) * scale;
            if (!dPrediction.IsEmpty) dPrediction[i] = g;
            if (!dTarget.IsEmpty) dTarget[i] = -g;
        }
    }

    /// <summary>
    /// Mean over the rows of the cross-entropy of softmax(logits) against the smoothed target
    /// q = (1 − ε)·onehot(label) + ε/classes (PyTorch's label_smoothing): (1 − ε)·(−log p[label]) + ε/classes · Σ −log p.
    /// Writes the softmax probabilities (for the backward).
    /// </summary>
    public static T CrossEntropy<T>(ReadOnlySpan<T> logits, ReadOnlySpan<int> labels, int rows, int classes, T smoothing, Span<T> probabilities)
        where T : IFloatingPointIeee754<T>
    {
        if (rows == 0) return T.Zero;
        T total = T.Zero, k = T.CreateChecked(classes);
        for (int r = 0; r < rows; r++)
        {
            var row = logits.Slice(r * classes, classes);
            T max = row[0];
            for (int j = 1; j < classes; j++) max = T.Max(max, row[j]);
            T sum = T.Zero;
            for (int j = 0; j < classes; j++) sum += T.Exp(row[j] - max);
            T logSum = T.Log(sum) + max, allNll = T.Zero;
            for (int j = 0; j < classes; j++)
            {
                probabilities[r * classes + j] = T.Exp(row[j] - logSum);
                allNll += logSum - row[j];
            }
            total += (T.One - smoothing) * (logSum - row[labels[r]]) + smoothing / k * allNll;
        }
        return total / T.CreateChecked(rows);
    }

    /// <summary>dlogits = (p − q)·dLoss/rows with q the smoothed target of <see cref="CrossEntropy{T}"/>.</summary>
    public static void CrossEntropyBackward<T>(ReadOnlySpan<T> probabilities, ReadOnlySpan<int> labels, int rows, int classes, T smoothing, T dLoss, Span<T> dLogits)
        where T : IFloatingPointIeee754<T>
    {
        if (rows == 0) return;
        T scale = dLoss / T.CreateChecked(rows), off = smoothing / T.CreateChecked(classes);
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < classes; j++)
            {
                T q = off + (j == labels[r] ? T.One - smoothing : T.Zero);
                dLogits[r * classes + j] = (probabilities[r * classes + j] - q) * scale;
            }
    }
}
