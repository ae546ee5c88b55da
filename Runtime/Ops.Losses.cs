using System;

namespace ModelGen;

public static partial class Ops
{
    /// <summary>
    /// Mean over all elements of the binary cross-entropy between sigmoid(<paramref name="logits"/>) and
    /// <paramref name="targets"/> (probabilities in [0, 1]), in the stable form max(x, 0) − x·t + log(1 + e^−|x|): a scalar.
    /// </summary>
    public static Tensor BinaryCrossEntropyWithLogits(Tensor logits, Tensor targets)
    {
        CheckSameShape("BinaryCrossEntropyWithLogits", logits, targets);
        float loss = Reference.BinaryCrossEntropyWithLogits<float>(logits.Data, targets.Data);
        var y = new Tensor(new[] { loss }, Array.Empty<int>());
        return Tensor.Record(y, "BinaryCrossEntropyWithLogits", new[] { logits, targets },
            (dy, dx) => Reference.BinaryCrossEntropyWithLogitsBackward<float>(logits.Data, targets.Data, dy[0], dx[0], dx[1]));
    }

    /// <summary>Mean over all elements of |prediction − target|: a scalar. The shapes must be equal.</summary>
    public static Tensor L1Loss(Tensor prediction, Tensor target)
    {
        CheckSameShape("L1Loss", prediction, target);
        float loss = Reference.L1Loss<float>(prediction.Data, target.Data);
        var y = new Tensor(new[] { loss }, Array.Empty<int>());
        return Tensor.Record(y, "L1Loss", new[] { prediction, target },
            (dy, dx) => Reference.L1LossBackward<float>(prediction.Data, target.Data, dy[0], dx[0], dx[1]));
    }

    /// <summary>
    /// Mean over all elements of the Huber loss of d = prediction − target: ½d² where |d| ≤ <paramref name="delta"/>,
    /// delta·(|d| − ½delta) beyond (PyTorch's HuberLoss): a scalar.
    /// </summary>
    public static Tensor HuberLoss(Tensor prediction, Tensor target, double delta = 1.0)
    {
        CheckSameShape("HuberLoss", prediction, target);
        if (!(delta > 0)) throw new ArgumentOutOfRangeException(nameof(delta), delta, "HuberLoss: delta must be positive.");
        float d = (float)delta;
        float loss = Reference.HuberLoss<float>(prediction.Data, target.Data, d);
        var y = new Tensor(new[] { loss }, Array.Empty<int>());
        return Tensor.Record(y, "HuberLoss", new[] { prediction, target },
            (dy, dx) => Reference.HuberLossBackward<float>(prediction.Data, target.Data, d, dy[0], dx[0], dx[1]));
    }

    /// <summary>
    /// Mean over the batch of the cross-entropy between softmax(<paramref name="logits"/>) and the labels smoothed by
    /// <paramref name="labelSmoothing"/> ε: the target is (1 − ε)·onehot(label) + ε/classes, as PyTorch's
    /// <c>cross_entropy(..., label_smoothing=ε)</c>. ε = 0 is <see cref="SoftmaxCrossEntropy"/>. A scalar.
    /// </summary>
    public static Tensor CrossEntropy(Tensor logits, Labels labels, double labelSmoothing = 0.0)
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(labels);
        if (logits.Rank != 2)
            throw new ArgumentException($"CrossEntropy: logits must be (batch, classes), got shape {Tensor.FormatShape(logits.Shape)}.", nameof(logits));
        if (!(labelSmoothing >= 0 && labelSmoothing <= 1))
            throw new ArgumentOutOfRangeException(nameof(labelSmoothing), labelSmoothing, "CrossEntropy: label smoothing must be in [0, 1].");
        int rows = logits.Dim(0), classes = logits.Dim(1);
        if (labels.Count != rows)
            throw new ArgumentException($"CrossEntropy: logits of shape {Tensor.FormatShape(logits.Shape)} have {rows} rows but there are {labels.Count} labels.", nameof(labels));
        int[] labelValues = labels.Values.ToArray();
        foreach (int l in labelValues)
            if ((uint)l >= (uint)classes) throw new ArgumentOutOfRangeException(nameof(labels), l, $"CrossEntropy: label {l} is outside [0, {classes}).");
        float eps = (float)labelSmoothing;
        var probabilities = new float[logits.Length];
        float loss = Reference.CrossEntropy<float>(logits.Data, labelValues, rows, classes, eps, probabilities);
        var y = new Tensor(new[] { loss }, Array.Empty<int>());
        return Tensor.Record(y, "CrossEntropy", new[] { logits },
            (dy, dx) => Reference.CrossEntropyBackward<float>(probabilities, labelValues, rows, classes, eps, dy[0], dx[0]));
    }

    static void CheckSameShape(string op, Tensor a, Tensor b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (!a.Shape.SequenceEqual(b.Shape))
            throw new ArgumentException(
                $"{op}: shapes {Tensor.FormatShape(a.Shape)} and {Tensor.FormatShape(b.Shape)} differ: prediction and target must have the same shape.");
    }
}
