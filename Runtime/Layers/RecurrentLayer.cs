using System;

namespace ModelGen;

/// <summary>
/// The parameters shared by the recurrent layers (<see cref="LSTM"/>, <see cref="GRU"/>): input-to-hidden and
/// hidden-to-hidden weights of (in, gH) and (H, gH) for g gates, Xavier-uniform, and two biases of gH, zeros. The
/// weights are stored transposed with respect to PyTorch, as in <see cref="Linear"/>.
/// </summary>
public abstract class RecurrentLayer : IModule
{
    readonly string _name;

    /// <summary>Creates the parameters of a layer of <paramref name="gates"/> gates from <paramref name="seed"/>.</summary>
    private protected RecurrentLayer(string name, int gates, int inputSize, int hiddenSize, int seed)
    {
        SequenceLayer.Positive(inputSize, nameof(inputSize), name);
        SequenceLayer.Positive(hiddenSize, nameof(hiddenSize), name);
        _name = name;
        InputSize = inputSize;
        HiddenSize = hiddenSize;
        var rng = new Random(seed);
        WeightIh = SequenceLayer.Parameter("weight_ih", Init.XavierUniform, rng, inputSize, gates * hiddenSize);
        WeightHh = SequenceLayer.Parameter("weight_hh", Init.XavierUniform, rng, hiddenSize, gates * hiddenSize);
        BiasIh = SequenceLayer.Parameter("bias_ih", Init.Zeros, rng, gates * hiddenSize);
        BiasHh = SequenceLayer.Parameter("bias_hh", Init.Zeros, rng, gates * hiddenSize);
    }

    /// <summary>Input features.</summary>
    public int InputSize { get; }

    /// <summary>Hidden units H.</summary>
    public int HiddenSize { get; }

    /// <summary>(in, gates·H).</summary>
    public Tensor WeightIh { get; private set; }

    /// <summary>(H, gates·H).</summary>
    public Tensor WeightHh { get; private set; }

    /// <summary>(gates·H).</summary>
    public Tensor BiasIh { get; private set; }

    /// <summary>(gates·H).</summary>
    public Tensor BiasHh { get; private set; }

    /// <summary>(B, T, in) → every hidden state (B, T, H), from a zero initial state.</summary>
    public abstract Tensor Forward(Tensor x);

    /// <summary>Points the parameters at <c>{prefix}.weight_ih</c>, <c>weight_hh</c>, <c>bias_ih</c>, <c>bias_hh</c>.</summary>
    public void Bind(ParameterStore store, string prefix)
    {
        var wih = SequenceLayer.Bind(_name, store, prefix, "weight_ih", WeightIh);
        var whh = SequenceLayer.Bind(_name, store, prefix, "weight_hh", WeightHh);
        var bih = SequenceLayer.Bind(_name, store, prefix, "bias_ih", BiasIh);
        var bhh = SequenceLayer.Bind(_name, store, prefix, "bias_hh", BiasHh);
        (WeightIh, WeightHh, BiasIh, BiasHh) = (wih, whh, bih, bhh);
    }
}
