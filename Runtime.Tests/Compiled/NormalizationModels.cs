using ModelGen;
using static ModelGen.Ops;

// Small models for the Normalization and Losses families (odd sizes, so SIMD loops have tails). Each starts with a
// layer so that every op's backward rule is exercised through a parameter gradient.
namespace ModelGen.Runtime.Tests.Compiled;

/// <summary>Linear, BatchNorm1d, LeakyReLU, Linear; cross-entropy with label smoothing.</summary>
[Model]
public partial class BatchNormMlpModel
{
    readonly Linear hidden = new(13, 17, bias: false); // a bias before BatchNorm has gradient 0 exactly (the mean removes it)
    readonly BatchNorm1d norm = new(17);
    readonly Linear output = new(17, 5);

    [Forward] public Tensor Forward([Shape(13)] Tensor x) => output.Forward(LeakyRelu(norm.Forward(hidden.Forward(x)), 0.05));

    [Loss] public Tensor Loss(Tensor logits, Labels labels) => Ops.CrossEntropy(logits, labels, labelSmoothing: 0.1);

    /// <summary><paramref name="count"/> random samples of 13 features in [-1, 3) with random labels of the 5 classes.</summary>
    public static Dataset Classes(int count, int seed)
    {
        var rng = new System.Random(seed);
        var x = new float[count * 13];
        var y = new int[count];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 4 - 1);
        for (int i = 0; i < count; i++) y[i] = rng.Next(5);
        return new Dataset(x, new[] { 13 }, y, 5);
    }
}

/// <summary>A per-position scale of (3, 5, 6) inputs, BatchNorm2d over the 3 channels, SiLU, a second scale; L1 loss.</summary>
[Model]
public partial class BatchNorm2dModel
{
    [Parameter(6, Init = Init.HeNormal)] public partial Tensor Scale { get; }
    readonly BatchNorm2d norm = new(3, epsilon: 1e-3, momentum: 0.2);
    [Parameter(5, 6, Init = Init.HeNormal)] public partial Tensor Mix { get; }

    [Forward] public Tensor Forward([Shape(3, 5, 6)] Tensor x) => Silu(norm.Forward(x * Scale + 0.5f)) * Mix;

    [Loss] public Tensor Loss(Tensor y, Tensor target) => L1Loss(y, target);
}

/// <summary>Linear, SiLU, two Dropout layers (different salts), Linear; Huber loss.</summary>
[Model]
public partial class DropoutModel
{
    readonly Linear hidden = new(11, 19);
    readonly Dropout drop = new(0.3);
    readonly Dropout drop2 = new(0.5);
    readonly Linear output = new(19, 3);

    [Forward] public Tensor Forward([Shape(11)] Tensor x) => output.Forward(drop2.Forward(drop.Forward(Silu(hidden.Forward(x)))));

    [Loss] public Tensor Loss(Tensor y, Tensor target) => HuberLoss(y, target, delta: 0.5);
}

/// <summary>Linear then binary cross-entropy with logits; LeakyReLU with the default slope.</summary>
[Model]
public partial class BceModel
{
    readonly Linear layer = new(9, 6);

    [Forward] public Tensor Forward([Shape(9)] Tensor x) => LeakyRelu(layer.Forward(x)) * 3;

    [Loss] public Tensor Loss(Tensor y, Tensor target) => BinaryCrossEntropyWithLogits(y, target);
}

/// <summary>Softmax and log-softmax over per-sample axis 0 (not the last) of a (B, 4, 6) value.</summary>
[Model]
public partial class SoftmaxAxisModel
{
    [Parameter(4, 6, Init = Init.HeNormal)] public partial Tensor Scale { get; }
    [Parameter(6, Init = Init.HeUniform)] public partial Tensor Shift { get; }

    [Forward]
    public Tensor Forward([Shape(4, 6)] Tensor x)
    {
        var z = x * Scale + Shift;
        return Softmax(z, axis: 0) * 3 + LogSoftmax(z, 0) * z;
    }

    [Loss] public Tensor Loss(Tensor y, Tensor target) => MeanSquaredError(y, target);
}

/// <summary>BatchNorm1d, Dropout and LeakyReLU in a classifier (the golden sample's shape), for mode-switching tests.</summary>
[Model]
public partial class NormClassifierModel
{
    readonly Linear hidden = new(8, 16, bias: false);
    readonly BatchNorm1d norm = new(16);
    readonly Dropout drop = new(0.25);
    readonly Linear output = new(16, 3);

    [Forward] public Tensor Forward([Shape(8)] Tensor x) => output.Forward(drop.Forward(LeakyRelu(norm.Forward(hidden.Forward(x)))));

    [Loss] public Tensor Loss(Tensor logits, Labels labels) => Ops.CrossEntropy(logits, labels);
}

/// <summary>A module with Linear, BatchNorm1d and Dropout: nested paths ("blocks.1.drop") salt the masks and name the state.</summary>
[Module]
public partial class NormBlock
{
    readonly Linear fc;
    readonly BatchNorm1d norm;
    readonly Dropout drop = new(0.4);

    public NormBlock(int width)
    {
        fc = new Linear(width, width, bias: false);
        norm = new BatchNorm1d(width, momentum: 0.3);
    }

    [Forward] public Tensor Forward(Tensor x) => x + drop.Forward(Silu(norm.Forward(fc.Forward(x))));
}

/// <summary>Two NormBlocks between two Linears; mean squared error.</summary>
[Model]
public partial class NormBlocksModel
{
    readonly Linear input = new(7, 9);
    readonly NormBlock[] blocks = Repeat(2, () => new NormBlock(9));
    readonly Linear output = new(9, 2);

    [Forward]
    public Tensor Forward([Shape(7)] Tensor x)
    {
        var h = input.Forward(x);
        for (int i = 0; i < blocks.Length; i++) h = blocks[i].Forward(h);
        return output.Forward(h);
    }

    [Loss] public Tensor Loss(Tensor y, Tensor target) => MeanSquaredError(y, target);
}
