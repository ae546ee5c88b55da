using System;

namespace ModelGen;

/// <summary>
/// A one-layer LSTM over a static sequence, batch first: (B, T, inputSize) → every hidden state (B, T, hiddenSize),
/// from a zero initial state, with PyTorch's gates and gate order (i, f, g, o). The weights are stored transposed
/// with respect to PyTorch, as in <see cref="Linear"/>: <c>weight_ih</c> (in, 4H) and <c>weight_hh</c> (H, 4H),
/// Xavier-uniform; <c>bias_ih</c> and <c>bias_hh</c> (4H) start at zero.
/// </summary>
public sealed class LSTM : IModule
{
    /// <summary>An LSTM from <paramref name="inputSize"/> features to <paramref name="hiddenSize"/> hidden units.</summary>
    public LSTM(int inputSize, int hiddenSize) : this(inputSize, hiddenSize, Linear.DefaultSeed) { }

    /// <summary>As <see cref="LSTM(int, int)"/>, with weights drawn from <paramref name="seed"/>.</summary>
    public LSTM(int inputSize, int hiddenSize, int seed)
    {
        SequenceLayer.Positive(inputSize, nameof(inputSize), "LSTM");
        SequenceLayer.Positive(hiddenSize, nameof(hiddenSize), "LSTM");
        InputSize = inputSize;
        HiddenSize = hiddenSize;
        var rng = new Random(seed);
        WeightIh = SequenceLayer.Parameter("weight_ih", Init.XavierUniform, rng, inputSize, 4 * hiddenSize);
        WeightHh = SequenceLayer.Parameter("weight_hh", Init.XavierUniform, rng, hiddenSize, 4 * hiddenSize);
        BiasIh = SequenceLayer.Parameter("bias_ih", Init.Zeros, rng, 4 * hiddenSize);
        BiasHh = SequenceLayer.Parameter("bias_hh", Init.Zeros, rng, 4 * hiddenSize);
    }

    /// <summary>Input features.</summary>
    public int InputSize { get; }

    /// <summary>Hidden units H.</summary>
    public int HiddenSize { get; }

    /// <summary>(in, 4H).</summary>
    public Tensor WeightIh { get; private set; }

    /// <summary>(H, 4H).</summary>
    public Tensor WeightHh { get; private set; }

    /// <summary>(4H).</summary>
    public Tensor BiasIh { get; private set; }

    /// <summary>(4H).</summary>
    public Tensor BiasHh { get; private set; }

    /// <summary>(B, T, in) → (B, T, H).</summary>
    public Tensor Forward(Tensor x) => Ops.LstmRecurrence(Ops.MatMul(x, WeightIh) + BiasIh + BiasHh, WeightHh);

    /// <summary>Points the parameters at <c>{prefix}.weight_ih</c>, <c>weight_hh</c>, <c>bias_ih</c>, <c>bias_hh</c>.</summary>
    public void Bind(ParameterStore store, string prefix)
    {
        var wih = SequenceLayer.Bind("LSTM", store, prefix, "weight_ih", WeightIh);
        var whh = SequenceLayer.Bind("LSTM", store, prefix, "weight_hh", WeightHh);
        var bih = SequenceLayer.Bind("LSTM", store, prefix, "bias_ih", BiasIh);
        var bhh = SequenceLayer.Bind("LSTM", store, prefix, "bias_hh", BiasHh);
        (WeightIh, WeightHh, BiasIh, BiasHh) = (wih, whh, bih, bhh);
    }
}
