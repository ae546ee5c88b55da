using System;

namespace ModelGen;

/// <summary>
/// A fully connected layer: y = x·W + b with W of shape (in, out) (He-uniform) and b of shape (out) (zeros).
/// Its parameters are named <c>weight</c> and <c>bias</c> under the field's path.
/// </summary>
/// <remarks>
/// On its own the layer owns its tensors (both require gradients) and is initialized from a fixed seed, so an
/// eager run is reproducible. Inside a model, <see cref="Bind"/> points them at the model's parameter arena.
/// </remarks>
public sealed class Linear : IModule
{
    /// <summary>The seed of the stand-alone initialization used by the three-argument constructor.</summary>
    public const int DefaultSeed = 0x5EED;

    /// <summary>A layer from <paramref name="inFeatures"/> to <paramref name="outFeatures"/>, initialized from <see cref="DefaultSeed"/>.</summary>
    public Linear(int inFeatures, int outFeatures, bool bias = true) : this(inFeatures, outFeatures, bias, DefaultSeed) { }

    /// <summary>A layer from <paramref name="inFeatures"/> to <paramref name="outFeatures"/> with weights drawn from <paramref name="seed"/>.</summary>
    public Linear(int inFeatures, int outFeatures, bool bias, int seed)
    {
        if (inFeatures <= 0)
            throw new ArgumentOutOfRangeException(nameof(inFeatures), inFeatures, "Linear: the number of input features must be positive.");
        if (outFeatures <= 0)
            throw new ArgumentOutOfRangeException(nameof(outFeatures), outFeatures, "Linear: the number of output features must be positive.");
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        Weight = new Tensor(inFeatures, outFeatures) { RequiresGrad = true };
        Initializers.Fill(Weight.Data, new ParameterInfo("weight", new[] { inFeatures, outFeatures }, 0, Init.HeUniform), new Random(seed));
        if (bias) Bias = new Tensor(outFeatures) { RequiresGrad = true };
    }

    /// <summary>Input features.</summary>
    public int InFeatures { get; }

    /// <summary>Output features.</summary>
    public int OutFeatures { get; }

    /// <summary>The weight, shape (in, out).</summary>
    public Tensor Weight { get; private set; }

    /// <summary>The bias, shape (out), or null without bias.</summary>
    public Tensor? Bias { get; private set; }

    /// <summary>x·W + b, eagerly: (…, in) → (…, out).</summary>
    public Tensor Forward(Tensor x)
    {
        var y = Ops.MatMul(x, Weight);
        return Bias is null ? y : y + Bias;
    }

    /// <summary>
    /// Points <see cref="Weight"/> and <see cref="Bias"/> at <c>{prefix}.weight</c> and <c>{prefix}.bias</c> of
    /// <paramref name="store"/> (their gradients are the store's gradient views). Throws when a shape differs.
    /// </summary>
    public void Bind(ParameterStore store, string prefix)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(prefix);
        var weight = store[prefix + ".weight"].Value;
        Check(weight, prefix + ".weight", InFeatures, OutFeatures);
        Tensor? bias = null;
        if (Bias is not null)
        {
            bias = store[prefix + ".bias"].Value;
            Check(bias, prefix + ".bias", OutFeatures);
        }
        Weight = weight;
        Bias = bias;
    }

    static void Check(Tensor tensor, string name, params int[] expected)
    {
        if (!tensor.Shape.SequenceEqual(expected))
            throw new ArgumentException(
                $"Linear: parameter '{name}' has shape {Tensor.FormatShape(tensor.Shape)} but the layer needs {Tensor.FormatShape(expected)}.");
    }
}
