using System;

namespace ModelGen;

/// <summary>
/// Layer normalization over the last dimension (PyTorch's nn.LayerNorm(features)): y = (x − mean)/sqrt(var + eps)·weight
/// + bias with the biased variance; weight starts at ones, bias at zeros. Parameters <c>weight</c> and <c>bias</c>.
/// </summary>
public sealed class LayerNorm : IModule
{
    /// <summary>Normalizes rows of <paramref name="features"/> values.</summary>
    public LayerNorm(int features, double epsilon = 1e-5)
    {
        SequenceLayer.Positive(features, nameof(features), "LayerNorm");
        if (!(epsilon > 0)) throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "LayerNorm: epsilon must be positive.");
        Features = features;
        Epsilon = epsilon;
        var rng = new Random(0);
        Weight = SequenceLayer.Parameter("weight", Init.Ones, rng, features);
        Bias = SequenceLayer.Parameter("bias", Init.Zeros, rng, features);
    }

    /// <summary>The length of the normalized dimension.</summary>
    public int Features { get; }

    /// <summary>Added to the variance.</summary>
    public double Epsilon { get; }

    /// <summary>The scale, shape (features).</summary>
    public Tensor Weight { get; private set; }

    /// <summary>The shift, shape (features).</summary>
    public Tensor Bias { get; private set; }

    /// <summary>(…, features) → (…, features).</summary>
    public Tensor Forward(Tensor x) => Ops.LayerNorm(x, Weight, Bias, Epsilon);

    /// <summary>Points the parameters at <c>{prefix}.weight</c> and <c>{prefix}.bias</c> of <paramref name="store"/>.</summary>
    public void Bind(ParameterStore store, string prefix)
    {
        var weight = SequenceLayer.Bind("LayerNorm", store, prefix, "weight", Weight);
        var bias = SequenceLayer.Bind("LayerNorm", store, prefix, "bias", Bias);
        Weight = weight;
        Bias = bias;
    }
}
