using System;

namespace ModelGen;

// CONTRACT STUB (owner: eager helper). Signatures are the user-facing contract; bodies get the eager reference kernels.
/// <summary>
/// The operations a <c>[Forward]</c> or <c>[Loss]</c> method may call. Called directly they run eagerly
/// (reference kernels plus a tape); inside a model the generator compiles them.
/// </summary>
public static partial class Ops
{
    /// <summary>Matrix product of the last two dimensions: (m,k)·(k,n) → (m,n); a 1-D left operand is a row vector.</summary>
    public static Tensor MatMul(Tensor a, Tensor b) => throw new NotImplementedException();
    /// <summary>max(x, 0), elementwise.</summary>
    public static Tensor Relu(Tensor x) => throw new NotImplementedException();
    /// <summary>tanh(x), elementwise.</summary>
    public static Tensor Tanh(Tensor x) => throw new NotImplementedException();
    /// <summary>1 / (1 + e^-x), elementwise.</summary>
    public static Tensor Sigmoid(Tensor x) => throw new NotImplementedException();
    /// <summary>e^x, elementwise.</summary>
    public static Tensor Exp(Tensor x) => throw new NotImplementedException();
    /// <summary>Natural logarithm, elementwise.</summary>
    public static Tensor Log(Tensor x) => throw new NotImplementedException();
    /// <summary>x², elementwise.</summary>
    public static Tensor Square(Tensor x) => throw new NotImplementedException();
    /// <summary>Softmax along <paramref name="axis"/> (default the last).</summary>
    public static Tensor Softmax(Tensor x, int axis = -1) => throw new NotImplementedException();
    /// <summary>Log-softmax along <paramref name="axis"/> (default the last).</summary>
    public static Tensor LogSoftmax(Tensor x, int axis = -1) => throw new NotImplementedException();
    /// <summary>Mean over the batch of the cross-entropy between softmax(logits) and the labels: a scalar.</summary>
    public static Tensor SoftmaxCrossEntropy(Tensor logits, Labels labels) => throw new NotImplementedException();
    /// <summary>Mean over all elements of (prediction - target)²: a scalar.</summary>
    public static Tensor MeanSquaredError(Tensor prediction, Tensor target) => throw new NotImplementedException();
    /// <summary>Sum of all elements: a scalar.</summary>
    public static Tensor Sum(Tensor x) => throw new NotImplementedException();
    /// <summary>Sum along <paramref name="axis"/>; the axis is kept with size 1 when <paramref name="keepDims"/>.</summary>
    public static Tensor Sum(Tensor x, int axis, bool keepDims = false) => throw new NotImplementedException();
    /// <summary>Mean of all elements: a scalar.</summary>
    public static Tensor Mean(Tensor x) => throw new NotImplementedException();
    /// <summary>Mean along <paramref name="axis"/>; the axis is kept with size 1 when <paramref name="keepDims"/>.</summary>
    public static Tensor Mean(Tensor x, int axis, bool keepDims = false) => throw new NotImplementedException();

    /// <summary>Makes <paramref name="count"/> modules with <paramref name="factory"/> (for arrays of blocks).</summary>
    public static T[] Repeat<T>(int count, Func<T> factory)
    {
        if (count < 0) throw new ArgumentOutOfRangeException(nameof(count), "The count cannot be negative.");
        var items = new T[count];
        for (int i = 0; i < count; i++) items[i] = factory();
        return items;
    }
}
