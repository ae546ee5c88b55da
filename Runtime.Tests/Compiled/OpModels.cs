using ModelGen;
using static ModelGen.Ops;

// Small models, one per op (or group of ops), compiled by the generator in this test assembly. Each starts
// with a layer so that the op's backward rule is exercised through a parameter gradient. Sizes are odd so
// that every SIMD loop has a scalar tail.
namespace ModelGen.Runtime.Tests.Compiled;

/// <summary>Linear, ReLU, Linear, softmax cross-entropy: the MLP of the sample at odd sizes.</summary>
[Model]
public partial class MlpModel
{
    readonly Linear hidden = new(37, 19);
    readonly Linear output = new(19, 5);

    [Forward] public Tensor Forward([Shape(37)] Tensor x) => output.Forward(Relu(hidden.Forward(x)));

    [Loss] public Tensor Loss(Tensor logits, Labels labels) => SoftmaxCrossEntropy(logits, labels);
}

/// <summary>Raw [Parameter] style: MatMul, bias by broadcasting, Tanh and Sigmoid, a product of two branches.</summary>
[Model]
public partial class TanhSigmoidModel
{
    [Parameter(13, 11, Init = Init.XavierUniform)] public partial Tensor W { get; }
    [Parameter(11, Init = Init.HeUniform)] public partial Tensor B { get; }
    [Parameter(11, 3, Init = Init.XavierNormal)] public partial Tensor V { get; }

    [Forward]
    public Tensor Forward([Shape(13)] Tensor x)
    {
        var z = MatMul(x, W) + B;
        var h = Tanh(z) * Sigmoid(z);
        return MatMul(h, V);
    }

    [Loss] public Tensor Loss(Tensor y, Tensor target) => MeanSquaredError(y, target);
}

/// <summary>Exp, Log, Square, division, subtraction, unary minus and constants.</summary>
[Model]
public partial class ElementwiseModel
{
    readonly Linear layer = new(9, 17);

    [Forward]
    public Tensor Forward([Shape(9)] Tensor x)
    {
        var z = layer.Forward(x);
        var positive = Square(z) + 1.5f;
        var y = Log(positive) - Exp(-Square(z) * 0.5f) / positive;
        return y * 2 - z / 3;
    }

    [Loss] public Tensor Loss(Tensor y, Tensor target) => Mean(Square(y - target));
}

/// <summary>Softmax and log-softmax on the last axis, and a sum over an axis kept for broadcasting.</summary>
[Model]
public partial class SoftmaxModel
{
    readonly Linear layer = new(6, 21);

    [Forward]
    public Tensor Forward([Shape(6)] Tensor x)
    {
        var z = layer.Forward(x);
        var p = Softmax(z);
        var lp = LogSoftmax(z, axis: 0);
        var rowSum = Sum(z * p, -1, keepDims: true);
        return p * lp + z * rowSum;
    }

    [Loss] public Tensor Loss(Tensor y, Tensor target) => MeanSquaredError(y, target);
}

/// <summary>
/// Reductions: Sum and Mean over everything and over a per-sample axis, with and without keepDims (the batch is never
/// an axis: the loss sums each sample's row, then averages).
/// </summary>
[Model]
public partial class ReductionModel
{
    readonly Linear layer = new(5, 12);
    [Parameter(12, Init = Init.HeNormal)] public partial Tensor Scale { get; }

    [Forward]
    public Tensor Forward([Shape(5)] Tensor x)
    {
        var z = layer.Forward(x) * Scale;
        var rowMean = Mean(z, -1, keepDims: true);
        var centered = z - rowMean;
        return centered * Scale + Sum(Tanh(z), 0, keepDims: true) / 12;
    }

    [Loss] public Tensor Loss(Tensor y, Tensor target) => Sum(Square(y - target)) / 100 + Mean(y) * 0.25f + Mean(Sum(y, 0)) * 0.02f;
}

/// <summary>Modules composed in a model: an array of residual blocks unrolled by a constant-bound loop.</summary>
[Module]
public partial class ResidualBlock
{
    readonly Linear fc;
    [Parameter(1, Init = Init.Ones)] public partial Tensor Gain { get; }

    public ResidualBlock(int width) => fc = new Linear(width, width);

    [Forward] public Tensor Forward(Tensor x) => x + Relu(fc.Forward(x)) * Gain;
}

/// <summary>A stack of three residual blocks between an input and an output layer.</summary>
[Model]
public partial class ResidualModel
{
    readonly Linear input = new(11, 23);
    readonly ResidualBlock[] blocks = Repeat(3, () => new ResidualBlock(23));
    readonly Linear output = new(23, 4);

    [Forward]
    public Tensor Forward([Shape(11)] Tensor x)
    {
        var h = Tanh(input.Forward(x));
        for (int i = 0; i < blocks.Length; i++) h = blocks[i].Forward(h);
        return output.Forward(h);
    }

    [Loss] public Tensor Loss(Tensor logits, Labels labels) => SoftmaxCrossEntropy(logits, labels);
}

/// <summary>A layer applied to every position of a (B, 5, 7) input: the batched MatMul and its weight gradient.</summary>
[Model]
public partial class SequenceLinearModel
{
    readonly Linear embed = new(7, 6);
    readonly Linear output = new(6, 3);

    [Forward]
    public Tensor Forward([Shape(5, 7)] Tensor x) => output.Forward(Mean(Tanh(embed.Forward(x)), 0));

    [Loss] public Tensor Loss(Tensor logits, Labels labels) => SoftmaxCrossEntropy(logits, labels);
}

/// <summary>
/// The input read by two layers and by an elementwise loop, and again by both layers' weight gradients: the generated
/// methods read the caller's span in place, several times.
/// </summary>
[Model]
public partial class SharedInputModel
{
    readonly Linear left = new(9, 6);
    readonly Linear right = new(9, 6);

    [Forward]
    public Tensor Forward([Shape(9)] Tensor x) => left.Forward(x) * right.Forward(Tanh(x)) + Sum(x * x, 0, keepDims: true);

    [Loss] public Tensor Loss(Tensor y, Tensor target) => MeanSquaredError(y, target);
}

/// <summary>
/// The output is the input itself and the loss reads it, next to a target named like the input: the loss methods take
/// the caller's input and targets side by side, and Infer copies the input to the output.
/// </summary>
[Model]
public partial class IdentityModel
{
    [Parameter(5, Init = Init.HeUniform)] public partial Tensor Scale { get; }

    [Forward] public Tensor Forward([Shape(5)] Tensor x) => x;

    [Loss] public Tensor Loss(Tensor y, Tensor x) => MeanSquaredError(y * Scale, x);
}
