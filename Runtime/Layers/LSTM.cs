namespace ModelGen;

/// <summary>
/// A one-layer LSTM over a static sequence, batch first: (B, T, inputSize) → every hidden state (B, T, hiddenSize),
/// from a zero initial state, with PyTorch's gates and gate order (i, f, g, o): <c>weight_ih</c> (in, 4H),
/// <c>weight_hh</c> (H, 4H), <c>bias_ih</c> and <c>bias_hh</c> (4H).
/// </summary>
public sealed class LSTM : RecurrentLayer
{
    /// <summary>An LSTM from <paramref name="inputSize"/> features to <paramref name="hiddenSize"/> hidden units.</summary>
    public LSTM(int inputSize, int hiddenSize) : this(inputSize, hiddenSize, Linear.DefaultSeed) { }

    /// <summary>As <see cref="LSTM(int, int)"/>, with weights drawn from <paramref name="seed"/>.</summary>
    public LSTM(int inputSize, int hiddenSize, int seed) : base("LSTM", 4, inputSize, hiddenSize, seed) { }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor x) => Ops.LstmRecurrence(Ops.MatMul(x, WeightIh) + BiasIh + BiasHh, WeightHh);
}
