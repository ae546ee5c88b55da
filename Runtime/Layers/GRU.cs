using System;

namespace ModelGen;

/// <summary>
/// A one-layer GRU over a static sequence, batch first: (B, T, inputSize) → every hidden state (B, T, hiddenSize),
/// from a zero initial state, with PyTorch's gates and gate order (r, z, n; n = tanh(x·W_in + b_in + r·(h·W_hn + b_hn))). The weights are stored transposed
/// with respect to PyTorch, as in <see cref="Linear"/>: <c>weight_ih</c> (in, 3H) and <c>weight_hh</c> (H, 3H),
/// Xavier-uniform; <c>bias_ih</c> and <c>bias_hh</c> (3H) start at zero.
/// </summary>
public sealed class GRU : IModule
{
    /// <summary>A GRU from <paramref name="inputSize"/> features to <paramref name="hiddenSize"/> hidden units.</summary>
    public GRU(int inputSize, int hiddenSize) : this(inputSize, hiddenSize, Linear.DefaultSeed) { }

    /// <summary>As <see cref="GRU(int, int)"/>, with weights drawn from <paramref name="seed"/>.</summary>
    public GRU(int inputSize, int hiddenSize, int seed)
    {
        SequenceLayer.Positive(inputSize, nameof(inputSize), "GRU");
        SequenceLayer.Positive(hiddenSize, nameof(hiddenSize), "GRU");
        InputSize = inputSize;
        HiddenSize = hiddenSize;
        var rng = new Random(seed);
        WeightIh = SequenceLayer.Parameter("weight_ih", Init.XavierUniform, rng, inputSize, 3 * hiddenSize);
        WeightHh = SequenceLayer.Parameter("weight_hh", Init.XavierUniform, rng, hiddenSize, 3 * hiddenSize);
        BiasIh = SequenceLayer.Parameter("bias_ih", Init.Zeros, rng, 3 * hiddenSize);
        BiasHh = SequenceLayer.Parameter("bias_hh", Init.Zeros, rng, 3 * hiddenSize);
    }

    /// <summary>Input features.</summary>
    public int InputSize { get; }

    /// <summary>Hidden units H.</summary>
    public int HiddenSize { get; }

    /// <summary>(in, 3H).</summary>
    public Tensor WeightIh { get; private set; }

    /// <summary>(H, 3H).</summary>
    public Tensor WeightHh { get; private set; }

    /// <summary>(3H).</summary>
    public Tensor BiasIh { get; private set; }

    /// <summary>(3H).</summary>
    public Tensor BiasHh { get; private set; }

    /// <summary>(B, T, in) → (B, T, H).</summary>
    public Tensor Forward(Tensor x) => Ops.GruRecurrence(Ops.MatMul(x, WeightIh) + BiasIh, WeightHh, BiasHh);

    /// <summary>Points the parameters at <c>{prefix}.weight_ih</c>, <c>weight_hh</c>, <c>bias_ih</c>, <c>bias_hh</c>.</summary>
    public void Bind(ParameterStore store, string prefix)
    {
        var wih = SequenceLayer.Bind("GRU", store, prefix, "weight_ih", WeightIh);
        var whh = SequenceLayer.Bind("GRU", store, prefix, "weight_hh", WeightHh);
        var bih = SequenceLayer.Bind("GRU", store, prefix, "bias_ih", BiasIh);
        var bhh = SequenceLayer.Bind("GRU", store, prefix, "bias_hh", BiasHh);
        (WeightIh, WeightHh, BiasIh, BiasHh) = (wih, whh, bih, bhh);
    }
}
